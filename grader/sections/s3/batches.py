"""The grader's own batches and probe model, shared by the trusted side and the §3 drivers.

The unit checks of ``train_one_epoch`` and ``evaluate`` feed the student's function batches made
here rather than by the student's ``collate_fn``, so that a bug in one function costs only that
function's points.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

MAX_TOKENS = 512
#: The tokenizer arguments the assignment prescribes for ``collate_fn``.
TOKENIZER_ARGUMENTS = {"padding": True, "max_length": MAX_TOKENS, "truncation": True, "return_tensors": "pt"}
PROBE_MODEL_SEED = 4471
#: Steps of the threshold run the grader replays to verify that its weights came from the student's code.
PREFIX_STEPS = 2


@lru_cache(maxsize=4)
def load_tokenizer(model_dir: str):
    """The tokenizer stored beside a model; refuses the empty tokenizer transformers may return."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if len(tokenizer) < 100:
        raise OSError(f"the tokenizer in {model_dir} has only {len(tokenizer)} tokens: its files are missing")
    return tokenizer


def encode_batch(tokenizer, examples: list[dict[str, Any]]) -> dict[str, Any]:
    """What a correct ``collate_fn`` returns for ``examples`` (dicts with "text" and "label")."""
    import torch

    text_encoding = tokenizer([example["text"] for example in examples], **TOKENIZER_ARGUMENTS)
    labels = torch.tensor([int(example["label"]) for example in examples], dtype=torch.long)
    return {"text_encoding": text_encoding, "label_encoding": labels}


def probe_model(model_dir: str):
    """A seeded copy of the model in ``model_dir`` whose head gives both classes on ordinary text.

    A freshly initialised head predicts one class for nearly every input, and then an accuracy that
    ignores the predictions could look right. Scaling the head's output layer spreads its logits.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(PROBE_MODEL_SEED)  # a head missing from the checkpoint is initialised from it
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    generator = torch.Generator().manual_seed(PROBE_MODEL_SEED)
    with torch.no_grad():
        out_proj = model.classifier.out_proj
        out_proj.weight.copy_(torch.randn(out_proj.weight.shape, generator=generator) * 2.0)
        out_proj.bias.zero_()
    return model


def watched(name: str) -> bool:
    """The parameters 3.3.2 compares after an epoch: the head, the first encoder layer, the
    embeddings' norm (enough to tell every step apart, small enough to send back from a GPU run)."""
    return name.startswith("classifier.") or ".layer.0." in name or "embeddings.LayerNorm" in name


def probe_loader(model_dir: str, examples: list[dict[str, Any]], batch_size: int):
    """The dataloader the §3 probes give the student's functions, and 3.3.2's reference epoch uses.

    It has a generator of its own: each iterator a dataloader makes draws a seed, and without one it
    draws from torch's global generator, which dropout uses too. A progress bar that makes an extra
    iterator (``tqdm.auto`` does) would then shift every dropout mask of an honest epoch.
    """
    from functools import partial

    import torch
    from torch.utils.data import DataLoader

    collate = partial(encode_batch, load_tokenizer(model_dir))
    dataset: Any = examples  # a list serves as a map-style dataset
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=False, collate_fn=collate, generator=torch.Generator()
    )
