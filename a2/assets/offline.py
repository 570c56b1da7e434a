"""Build and cache the offline profile's assets: SST-2-shaped data, a BPE tokenizer, a tiny RoBERTa.

The real ``roberta-base`` and ``gpt3mix/sst2`` cannot be downloaded where the tests and CI run, so
the offline profile uses stand-ins made here, deterministically: the same code gives the same bytes.
The layout mirrors what the real names give, so that the notebook loads both the same way (the
grader reads the data's lines itself, a2/sections/s3/resources.py):

    <root>/model/   config.json, model.safetensors, tokenizer.json, tokenizer_config.json
                    (``AutoTokenizer`` and ``AutoModelForSequenceClassification`` read it)
    <root>/data/    train.jsonl, validation.jsonl, test.jsonl  (``datasets.load_dataset(path)`` reads it)

The sandboxed student process reads ``model/`` (world-readable) and never ``data/`` (owner only): it
gets its training examples from the grader, and the held-out labels stay with the grader. The
held-out split is drawn from a secret seed made once per installation (``heldout-seed`` in the cache
root, readable by its owner only) and reused, so regrades are stable and nobody holding this public
code can regenerate the held-out labels.

The model is "pretrained" only in name: its weights are a seeded random initialisation. What the
tests need from it is the RoBERTa code path and a model small enough to finetune in seconds on a CPU.
Its 514 positions let it take 512-token inputs, as ``roberta-base`` does.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a2.assets.sentences import generate_split

# Bump when anything below changes what is built; old caches are then ignored.
# 3: the held-out split is drawn from the installation's secret seed.
ASSETS_VERSION = 3

SPLIT_SIZES = {"train": 6920, "validation": 872, "test": 1821}
SPLIT_SEEDS = {"train": 4470, "validation": 4471}
# The held-out (test) split's seed: this variable when set (to rebuild an installation's split
# elsewhere), otherwise the installation's secret seed file.
HELDOUT_SEED_VARIABLE = "A2_HELDOUT_SEED"
HELDOUT_SEED_FILE = "heldout-seed"
MODEL_SEED = 447
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
TOKENIZER_VOCAB_SIZE = 1000
MAX_TOKENS = 512
TINY_ROBERTA: dict[str, Any] = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": MAX_TOKENS + 2,
}

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSETS_DIR_VARIABLE = "A2_ASSETS_DIR"


@dataclass(frozen=True)
class OfflineAssets:
    """Where the built assets live; ``model_dir`` holds the tokenizer files too."""

    root: Path
    model_dir: Path
    data_dir: Path

    def split_file(self, split: str) -> Path:
        return self.data_dir / f"{split}.jsonl"


def default_cache_root() -> Path:
    """``$A2_ASSETS_DIR`` if set, else ``.cache/assets`` in the repository."""
    configured = os.environ.get(ASSETS_DIR_VARIABLE)
    return Path(configured) if configured else REPO_ROOT / ".cache" / "assets"


def _assets_at(root: Path) -> OfflineAssets:
    return OfflineAssets(root=root, model_dir=root / "model", data_dir=root / "data")


def installation_seed(cache_root: Path) -> int:
    """The installation's secret held-out seed: read from ``cache_root/heldout-seed``, or made there
    (random, mode 0600) on first use. Two processes making it at once agree on one."""
    path = cache_root / HELDOUT_SEED_FILE
    try:
        return int(path.read_text(encoding="ascii"))
    except (FileNotFoundError, ValueError):
        pass
    cache_root.mkdir(parents=True, exist_ok=True)
    partial = cache_root / f".{HELDOUT_SEED_FILE}.{os.getpid()}"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(str(secrets.randbelow(2**31)))
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink()
    return int(path.read_text(encoding="ascii"))


def split_seed(split: str, cache_root: Path | None = None) -> int:
    """The generator seed of a split: the held-out one is ``$A2_HELDOUT_SEED`` when it is set, else
    the installation's secret seed."""
    if split != "test":
        return SPLIT_SEEDS[split]
    secret = os.environ.get(HELDOUT_SEED_VARIABLE)
    return int(secret) if secret else installation_seed(cache_root or default_cache_root())


def _write_data(data_dir: Path, cache_root: Path | None) -> list[str]:
    """Write the three splits as JSON lines; return the training texts (the tokenizer learns from them)."""
    data_dir.mkdir(parents=True)
    training_texts: list[str] = []
    for split, size in SPLIT_SIZES.items():
        sentences = generate_split(split_seed(split, cache_root), size)
        with (data_dir / f"{split}.jsonl").open("w", encoding="utf-8") as handle:
            for sentence in sentences:
                handle.write(json.dumps({"text": sentence.text, "label": sentence.label}) + "\n")
        if split == "train":
            training_texts = [sentence.text for sentence in sentences]
    return training_texts


def _write_tokenizer(model_dir: Path, texts: list[str]) -> int:
    """Train a byte-level BPE tokenizer with RoBERTa's special tokens; return its vocabulary size."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts,
        vocab_size=TOKENIZER_VOCAB_SIZE,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
    )
    with tempfile.TemporaryDirectory() as scratch:
        bpe.save_model(scratch)
        vocab = json.loads(Path(scratch, "vocab.json").read_text(encoding="utf-8"))
        merge_lines = Path(scratch, "merges.txt").read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split()) for line in merge_lines if line and not line.startswith("#")]
    # The tokenizer takes merges as pairs too, which its annotation does not say.
    tokenizer = RobertaTokenizerFast(vocab=vocab, merges=merges, model_max_length=MAX_TOKENS)  # type: ignore[arg-type]
    tokenizer.save_pretrained(model_dir)
    return len(tokenizer)


def tiny_roberta_config(vocab_size: int):
    """The tiny RoBERTa's configuration: two labels, RoBERTa's pad id, room for 512 tokens."""
    from transformers import RobertaConfig

    # num_labels is one of PretrainedConfig's keyword arguments, which RobertaConfig's annotation omits.
    labels: dict[str, Any] = {"num_labels": 2}
    return RobertaConfig(vocab_size=vocab_size, pad_token_id=1, **labels, **TINY_ROBERTA)


def _write_model(model_dir: Path, vocab_size: int) -> None:
    import torch
    from transformers import RobertaForSequenceClassification

    torch.manual_seed(MODEL_SEED)
    model = RobertaForSequenceClassification(tiny_roberta_config(vocab_size))
    model.save_pretrained(model_dir)


def _set_permissions(assets: OfflineAssets) -> None:
    """Model readable by everyone (the sandbox loads it); data readable by its owner only."""
    assets.root.chmod(0o755)
    assets.model_dir.chmod(0o755)
    for path in assets.model_dir.iterdir():
        path.chmod(0o644)
    assets.data_dir.chmod(0o700)
    for path in assets.data_dir.iterdir():
        path.chmod(0o600)


def build_offline_assets(target: Path, cache_root: Path | None = None) -> OfflineAssets:
    """Build every asset into ``target`` (which must not exist yet), the held-out split from the
    secret seed of ``cache_root`` (default: the configured cache)."""
    assets = _assets_at(target)
    texts = _write_data(assets.data_dir, cache_root)
    assets.model_dir.mkdir(parents=True)
    vocab_size = _write_tokenizer(assets.model_dir, texts)
    _write_model(assets.model_dir, vocab_size)
    _set_permissions(assets)
    return assets


def _is_complete(assets: OfflineAssets) -> bool:
    needed = [assets.model_dir / "config.json", assets.model_dir / "model.safetensors"]
    needed += [assets.model_dir / "tokenizer.json"] + [assets.split_file(split) for split in SPLIT_SIZES]
    return all(path.is_file() for path in needed)


def offline_assets(cache_root: Path | None = None) -> OfflineAssets:
    """The offline assets, built on first use and reused afterwards (a few seconds to build).

    Built in a temporary folder beside the cache and renamed into place, so that a process that
    reads the cache never sees half an asset, and two processes building at once both succeed.
    """
    root = (cache_root or default_cache_root()) / f"offline-v{ASSETS_VERSION}"
    assets = _assets_at(root)
    if _is_complete(assets):
        return assets
    root.parent.mkdir(parents=True, exist_ok=True)
    root.parent.chmod(0o755)
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=root.parent))
    try:
        build_offline_assets(scratch / "assets", root.parent)
        try:
            os.rename(scratch / "assets", root)
        except OSError:
            if not _is_complete(assets):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return assets
