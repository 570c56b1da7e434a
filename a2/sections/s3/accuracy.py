"""The grader's own accuracy count: trained weights from the sandbox, measured on held-out data here.

The weights are untrusted numbers. They must match the trusted model's parameters name for name and
shape for shape, and be finite; then they are loaded into a model this process builds, and the
held-out split (whose labels never left this process) is run through it with the grader's batches.
"""

from __future__ import annotations

from typing import Any

from a2.sections.s3.batches import encode_batch
from a2.sections.s3.resources import Sst2Resources
from grader.errors import GradingFailure

EVAL_BATCH_SIZE = 128


def trusted_model(resources: Sst2Resources, weights: Any, device: str):
    """The profile's model with ``weights`` loaded; GradingFailure if they do not fit it."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(resources.model_dir, num_labels=2)
    expected = model.state_dict()
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise GradingFailure("Training with your pipeline did not give back a set of model weights.")
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(weights) if weights[k].shape != expected[k].shape)
    if missing or unexpected or wrong_shape:
        raise GradingFailure(
            "The trained model's parameters do not match the model the grader gave your code "
            f"(missing: {missing[:3]}, unexpected: {unexpected[:3]}, other shape: {wrong_shape[:3]})."
        )
    if not all(torch.isfinite(weights[k].float()).all() for k in expected if weights[k].is_floating_point()):
        raise GradingFailure(
            "After training with your pipeline, some model weights are NaN or infinite: the training "
            "diverged."
        )
    model.load_state_dict({k: weights[k].to(expected[k].dtype) for k in expected})
    return model.to(device).eval()


def heldout_accuracy(resources: Sst2Resources, weights: Any, split: str, device: str) -> float:
    """Accuracy of ``weights`` on the held-out ``split``, counted by the grader."""
    import torch

    model = trusted_model(resources, weights, device)
    tokenizer = resources.tokenizer()
    examples = resources.splits[split]
    correct = 0
    starts = range(0, len(examples), EVAL_BATCH_SIZE)
    with torch.no_grad():
        for start in starts:
            batch = encode_batch(tokenizer, examples[start : start + EVAL_BATCH_SIZE])
            logits = model(**batch["text_encoding"].to(device)).logits
            correct += int((logits.argmax(dim=-1).cpu() == batch["label_encoding"]).sum())
    return correct / len(examples)
