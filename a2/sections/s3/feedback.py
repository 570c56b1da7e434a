"""Inputs for the §3 unit checks and the words for what the probes of the public checks observed.

The check files stay short: they pick inputs, run a probe, and raise the first message returned
here. Messages say what was expected and what came back, in the terms of the notebook. The words of
the hidden checks are in ``hidden_feedback``, which the students' checker does not carry.
"""

from __future__ import annotations

from typing import Any

import torch

from a2.assets.sentences import generate_split
from a2.sections.s3.batches import MAX_TOKENS, encode_batch
from grader.errors import GradingFailure
from grader.replies import UnusableReply

EXPECTED_KEYS = ["label_encoding", "text_encoding"]


def unit_examples(count: int, seed: int) -> list[dict]:
    """``count`` generated sentences with their labels, as the dicts the data set holds."""
    return [{"text": s.text, "label": s.label} for s in generate_split(seed, count)]


def raise_probe_error(reply: Any, probe: str, fields: dict[str, type | tuple[type, ...]]) -> dict:
    """The probe's reply, checked: GradingFailure when the student's code raised inside it, and
    UnusableReply when a field the check reads is missing or of another type."""
    if isinstance(reply, dict) and isinstance(reply.get("error"), str) and reply["error"]:
        raise GradingFailure(reply["error"])
    if not isinstance(reply, dict):
        raise UnusableReply(probe, "not a record of the run")
    for name, kind in fields.items():
        if not isinstance(reply.get(name), kind):
            raise UnusableReply(probe, f"no usable {name}")
    return reply


def recorded_encoding(reply: dict) -> dict:
    """The text_encoding the probe recorded, or an empty one when the record has none."""
    encoding = reply.get("encoding")
    return encoding if isinstance(encoding, dict) else {}


def collate_problems(reply: dict, tokenizer, examples: list[dict]) -> list[str]:
    """Everything wrong with one batch returned by collate_fn, compared with the grader's own."""
    if "keys" not in reply:
        return [
            f"collate_fn returned a {reply.get('type')}; expected a dict with "
            '"text_encoding" and "label_encoding".'
        ]
    if reply["keys"] != EXPECTED_KEYS:
        return [f"collate_fn returned the keys {reply['keys']}; expected exactly {EXPECTED_KEYS}."]
    want = encode_batch(tokenizer, examples)
    encoding = recorded_encoding(reply)
    problems = [
        _encoding_problem(name, encoding, want["text_encoding"][name])
        for name in ("input_ids", "attention_mask")
    ]
    problems.append(_labels_problem(reply.get("label_encoding"), want["label_encoding"]))
    return [problem for problem in problems if problem is not None]


def _encoding_problem(name: str, encoding: dict, expected: torch.Tensor) -> str | None:
    """What is wrong with the student's ``text_encoding[name]``, or None."""
    got = encoding.get(name)
    if got is None:
        return (
            f"text_encoding has no {name}: it must be the tokenizer's output as it is "
            f"(it holds {sorted(encoding)})."
        )
    if not isinstance(got, torch.Tensor):
        return f'{name} is {got}, not a tensor: call the tokenizer with return_tensors="pt".'
    if got.dtype != torch.long:
        return f"{name} has dtype {got.dtype}; the tokenizer gives torch.int64."
    if got.shape != expected.shape:
        if got.dim() == 2 and got.shape[1] == MAX_TOKENS and expected.shape[1] < MAX_TOKENS:
            return (
                f"{name} has shape {tuple(got.shape)}: every text is padded to {MAX_TOKENS} tokens. "
                f"padding=True pads only to the longest text of the batch (here {expected.shape[1]} "
                "tokens), which saves most of the computation."
            )
        return (
            f"{name} has shape {tuple(got.shape)}; expected {tuple(expected.shape)} (one row per "
            "text, padded to the longest text of the batch)."
        )
    if not torch.equal(got, expected):
        return (
            f"{name} differs from the tokenizer's encoding of the batch's texts, in their order, with "
            "padding=True, max_length=512, truncation=True."
        )
    return None


def _labels_problem(labels: Any, expected_labels: torch.Tensor) -> str | None:
    """What is wrong with the student's ``label_encoding``, or None."""
    if not isinstance(labels, torch.Tensor):
        return f"label_encoding is {labels}; expected a torch.long tensor of the batch's labels."
    if labels.dtype != torch.long:
        return f"label_encoding has dtype {labels.dtype}; expected torch.long (the loss needs it)."
    if labels.shape != expected_labels.shape:
        return (
            f"label_encoding has shape {tuple(labels.shape)}; expected {tuple(expected_labels.shape)}, one "
            "label per text."
        )
    if not torch.equal(labels, expected_labels):
        if torch.equal(labels.sort().values, expected_labels.sort().values):
            return (
                "label_encoding holds the batch's labels in a different order from the texts: label i "
                "must belong to text i, or the model learns from mismatched pairs."
            )
        return "label_encoding is not the labels of the batch's examples."
    return None
