"""The words of §3's hidden checks: truncation (3.1.3), one epoch of training (3.3.2), evaluation (3.3.3).

Kept apart from ``feedback`` so that the students' checker, which carries the public checks and what
they import, does not carry what the hidden checks look for.
"""

from __future__ import annotations

import torch

from grader.assets.sentences import generate_split
from grader.comparison import describe, within
from grader.sections.s3.batches import MAX_TOKENS
from grader.sections.s3.feedback import recorded_encoding


def long_example(tokenizer, seed: int) -> dict:
    """One example whose text is well over RoBERTa's 512 tokens with ``tokenizer``."""
    sentences = [s.text for s in generate_split(seed, 400)]
    count = 40
    while len(tokenizer(" ".join(sentences[:count]))["input_ids"]) <= MAX_TOKENS + 100:
        count += 40
    return {"text": " ".join(sentences[:count]), "label": 0}


def truncation_problem(reply: dict) -> str | None:
    """Whether a batch holding a text longer than 512 tokens came back cut to 512."""
    ids = recorded_encoding(reply).get("input_ids")
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        return f"collate_fn did not return input_ids as a 2-D tensor (got {describe(ids)})."
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
