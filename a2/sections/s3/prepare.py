"""`python -m grader prepare PROFILE`: fill the caches a profile grades §3 from.

`offline` builds the generated assets (no network). `full` downloads the profile's model and data
set into the Hugging Face cache (`HF_HOME`); the Gradescope image runs it once when it is built, with
network, so that grading later runs offline. Either way it ends by loading the profile exactly as a
grading run does and printing what it found. `python -m a2.sections.s3.prepare PROFILE` is the
same command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader.commands import ModuleVerb

# The files of a model repository that grading loads: the configuration, the weights in safetensors
# and the tokenizer. A repository such as roberta-base also holds the weights for other frameworks
# (PyTorch pickles, TensorFlow, Flax, ONNX, Rust), which the image never needs.
MODEL_FILES = [
    "config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
]

EXAMPLES = (
    "python -m grader prepare offline   # the generated tiny model and data, no network",
    "HF_HOME=/scratch/hf python -m grader prepare full   # roberta-base and SST-2, from the Hub",
)


def _download(model: str, dataset: str) -> None:
    os.environ["HF_HUB_OFFLINE"] = "0"
    os.environ["HF_DATASETS_OFFLINE"] = "0"
    from datasets import load_dataset
    from huggingface_hub import snapshot_download

    from a2.sections.s3.resources import HUB_DATASET_REVISION

    snapshot_download(model, allow_patterns=MODEL_FILES)
    load_dataset(dataset, revision=HUB_DATASET_REVISION)


def _protect_cache() -> None:
    """Let the sandbox user read the cached models and never the cached data sets.

    The sandboxed student process loads the model and tokenizer from the hub cache; the held-out
    labels sit in the data set caches (the prepared arrow files, and the raw files in the hub cache).
    """
    from datasets import config
    from huggingface_hub import constants

    hub = Path(constants.HF_HUB_CACHE)
    for folder, _, names in os.walk(hub):
        os.chmod(folder, 0o755)
        for name in names:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(0o644)
    for private in [Path(config.HF_DATASETS_CACHE), *hub.glob("datasets--*")]:
        if private.exists():
            private.chmod(0o700)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", help="a profile of a2/assignment.toml, e.g. offline or full")


def run(args: argparse.Namespace) -> int:
    from a2.records import a2_profile
    from grader.table import TableError, load_table

    try:
        profile = a2_profile(load_table().profile(args.profile))
    except TableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model, dataset = profile.model, profile.dataset
    if model != "offline" or dataset != "offline":
        try:
            _download(model, dataset)
        except Exception as error:  # noqa: BLE001 - every failure here has the same remedy
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            print(
                f"error: downloading {model} and {dataset} failed ({type(error).__name__}: {reason}). "
                "Run this where huggingface.co can be reached (the image build), with HF_HOME set to "
                "the cache the grader will read.",
                file=sys.stderr,
            )
            return 1
        _protect_cache()
    from a2.sections.s3.resources import ProfileResourcesMissing, load_resources

    try:
        resources = load_resources(profile)
    except ProfileResourcesMissing as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 1
    sizes = ", ".join(f"{split} {len(rows)}" for split, rows in resources.splits.items())
    print(f"{profile.name}: model and tokenizer in {resources.model_dir}; data: {sizes}")
    return 0


VERB = ModuleVerb(
    "prepare",
    "a2.sections.s3.prepare",
    summary="fill the model and data caches §3 grades from",
    description=__doc__,
    examples=EXAMPLES,
    arguments=_arguments,
    run=run,
)
register = VERB.register
main = VERB.main


if __name__ == "__main__":
    sys.exit(main())
