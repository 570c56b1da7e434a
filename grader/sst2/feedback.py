"""Inputs for the §3 unit checks and the student-facing words for what the probes observed.

The check files stay short: they pick inputs, run a probe, and raise the first message returned
here. Messages say what was expected and what came back, in the terms of the notebook.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.assets.sentences import generate_split
from grader.comparison import within
from grader.errors import GradingFailure
from grader.replies import UnusableReply
from grader.sst2.batches import MAX_TOKENS, encode_batch

EXPECTED_KEYS = ["label_encoding", "text_encoding"]


def unit_examples(count: int, seed: int) -> list[dict]:
    """``count`` generated sentences with their labels, as the dicts the data set holds."""
    return [{"text": s.text, "label": s.label} for s in generate_split(seed, count)]


def long_example(tokenizer, seed: int) -> dict:
    """One example whose text is well over RoBERTa's 512 tokens with ``tokenizer``."""
    sentences = [s.text for s in generate_split(seed, 400)]
    count = 40
    while len(tokenizer(" ".join(sentences[:count]))["input_ids"]) <= MAX_TOKENS + 100:
        count += 40
    return {"text": " ".join(sentences[:count]), "label": 0}


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


def _encoding(reply: dict) -> dict:
    """The text_encoding the probe recorded, or an empty one when the record has none."""
    encoding = reply.get("encoding")
    return encoding if isinstance(encoding, dict) else {}


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return str(value)


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
    encoding = _encoding(reply)
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


def truncation_problem(reply: dict) -> str | None:
    """Whether a batch holding a text longer than 512 tokens came back cut to 512."""
    ids = _encoding(reply).get("input_ids")
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        return f"collate_fn did not return input_ids as a 2-D tensor (got {_describe(ids)})."
    if ids.shape[1] > MAX_TOKENS:
        return (
            f"A batch holding a text of more than {MAX_TOKENS} tokens came back with {ids.shape[1]} tokens "
            f"per row. RoBERTa takes at most {MAX_TOKENS}: pass truncation=True and max_length=512."
        )
    if ids.shape[1] < MAX_TOKENS:
        return (
            f"A text longer than {MAX_TOKENS} tokens was cut to {ids.shape[1]} tokens; expected {MAX_TOKENS}."
        )
    return None


def training_record_readable(reply: dict) -> bool:
    """Whether the probe's record of an epoch has the fields ``training_problems`` reads."""
    return (
        observations_readable(reply, ("training", "labels"))
        and isinstance(reply.get("steps"), list)
        and all(isinstance(step, str) for step in reply["steps"])
        and all(isinstance(reply.get(key), int) for key in ("batches", "backwards", "loss_backwards"))
    )


def training_problems(reply: dict) -> list[str]:
    """What train_one_epoch did wrong, from the probe's record of forward passes and steps."""
    forwards, steps, batches = reply["forwards"], reply["steps"], reply["batches"]
    if not forwards:
        return ["train_one_epoch never ran the model."]
    problems = []
    if not all(f["training"] for f in forwards):
        problems.append(
            "The model was in evaluation mode while train_one_epoch trained it (the grader passed it in "
            "evaluation mode): call model.train() at the start, so that dropout is on during training."
        )
    if not all(f["labels"] for f in forwards):
        problems.append("The model was called without labels=, so it computed no loss to train on.")
    elif reply["loss_backwards"] < len(steps):
        problems.append("The loss that was backpropagated is not the loss the model returned with labels=.")
    if len(forwards) != batches:
        problems.append(
            f"The model was run {len(forwards)} times for the {batches} batches of the dataloader."
        )
    if not steps:
        problems.append("optimizer.step() was never called, so the parameters never changed.")
    elif len(steps) != batches:
        problems.append(
            f"optimizer.step() was called {len(steps)} times for {batches} batches; "
            "expected one step per batch."
        )
    if "accumulated" in steps:
        problems.append(
            "At an optimizer step the gradients still held those of earlier batches: the gradients are "
            "not cleared before each backward pass (optimizer.zero_grad())."
        )
    elif "zeroed" in steps or ("no gradient" in steps and reply["backwards"] > 0):
        problems.append(
            "At an optimizer step the gradients were empty: they were cleared after loss.backward() and "
            "before optimizer.step()."
        )
    elif reply["backwards"] == 0 and steps:
        problems.append("loss.backward() was never called, so there were no gradients to step with.")
    return problems


def observations_readable(reply: dict, fields: tuple[str, ...]) -> bool:
    """Whether every forward pass the probe recorded is a dict of booleans with ``fields``."""
    forwards = reply.get("forwards")
    return isinstance(forwards, list) and all(
        isinstance(f, dict) and all(isinstance(f.get(name), bool) for name in fields) for f in forwards
    )


def evaluation_problems(reply: dict, accuracy: float, expected_accuracy: float, count: int) -> list[str]:
    """What evaluate did wrong: the accuracy against the grader's own count (the verdict), then the
    probe's record (which can only add problems: student code could forge it, not make it pass)."""
    forwards = reply["forwards"]
    if not forwards:
        return ["evaluate never ran the model."]
    problems = []
    if any(f["training"] for f in forwards):
        problems.append(
            "evaluate ran the model in training mode (the grader passed it in training mode): call "
            "model.eval() first, or dropout changes the predictions."
        )
    if any(f["grad_enabled"] for f in forwards):
        problems.append(
            "evaluate built an autograd graph for its forward passes: run them under torch.no_grad(), "
            "which saves memory and time."
        )
    if not reply["unchanged"]:
        problems.append("evaluate changed the model's parameters; evaluating must not train.")
    elif reply["gradients"]:
        problems.append("evaluate computed gradients; evaluating needs none.")
    if not within(abs(accuracy - expected_accuracy), 1e-6):
        problems.append(
            f"evaluate returned {accuracy:.4f}, but on the same {count} examples the model's predictions "
            f"(the larger of its two logits) match {round(expected_accuracy * count)} labels: "
            f"{expected_accuracy:.4f}."
        )
    return problems
