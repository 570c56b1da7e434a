"""The words of §3's hidden checks: truncation (3.1.3), one epoch of training (3.3.2), evaluation (3.3.3).

Kept apart from ``feedback`` so that the students' checker, which carries the public checks and what
they import, does not carry what the hidden checks look for.
"""

from __future__ import annotations

import torch

from a2.assets.sentences import generate_split
from a2.sections.s3.batches import MAX_TOKENS
from a2.sections.s3.feedback import recorded_encoding
from a2.sections.s3.reference_steps import EpochVerdict
from grader.comparison import NotANumber, as_number, describe, within


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
    """What the probe saw train_one_epoch do that a correct epoch does not, each said as it was seen.

    Only ever worded after the grader's own replay found a wrong step (student code could forge this
    record, so it grants nothing), and only what honest variations never do: clipping rescales the
    gradients without turning them, a scheduler's step is not the optimizer's."""
    forwards, steps, batches = reply["forwards"], reply["steps"], reply["batches"]
    if not forwards:
        return ["train_one_epoch never ran the model."]
    seen = []
    if not all(f["training"] for f in forwards):
        seen.append("the model ran in evaluation mode (it was passed in evaluation mode)")
    if len(forwards) != batches:
        seen.append(f"the model ran {len(forwards)} times for the {batches} batches of the dataloader")
    if not steps:
        seen.append("optimizer.step() was never called")
    elif len(steps) != batches:
        seen.append(f"optimizer.step() was called {len(steps)} times for {batches} batches")
    if "accumulated" in steps:
        seen.append("at an optimizer step the gradients also held those of earlier batches")
    elif "zeroed" in steps or ("no gradient" in steps and reply["backwards"] > 0):
        seen.append("at an optimizer step the gradients were all zero or missing")
    elif reply["backwards"] == 0 and steps:
        seen.append("loss.backward() was never called")
    return seen


#: What each finding of reference_steps.judge_epoch tells the student (step counted from 1).
EPOCH_FINDINGS = {
    "unchanged": "After train_one_epoch, the classification head's weights were those it started with: no "
    "optimizer step changed them.",
    "passes": "train_one_epoch did not take exactly one pass over the dataloader's {batches} batches with "
    "the weights changing in it: one epoch is one pass, one optimizer step per batch.",
    "start": "The model's weights had changed before train_one_epoch took its first batch from the "
    "dataloader; train the model you are given, as it is given.",
    "eval mode": "At the step for batch {step} of {batches}, the weights moved as a step taken in "
    "evaluation mode moves them (the grader passed the model in evaluation mode, and computed that step "
    "both ways): call model.train() at the start, so that dropout is on during training.",
    "accumulated": "At the step for batch {step} of {batches}, the weights moved along the sum of the "
    "gradients of every batch so far rather than along this batch's (the grader computed both): the "
    "gradients were not cleared before the backward pass; call optimizer.zero_grad() for each batch.",
    "direction": "At the step for batch {step} of {batches}, the weights did not move along the gradient "
    "of the model's loss on that batch, which the grader computed at the same weights with the same "
    "dropout. Each step must backpropagate the loss the model returns with labels= and call "
    "optimizer.step() once.",
}


def epoch_message(verdict: EpochVerdict, observed: list[str]) -> str:
    """What the student reads when the replay of train_one_epoch found a wrong step: what the grader
    computed first, then what it saw, if anything."""
    text = EPOCH_FINDINGS[verdict.found].format(step=verdict.step + 1, batches=verdict.batches)
    return text + (f" The grader also saw: {'; '.join(observed)}." if observed else "")


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


def reported_accuracy(value: object, expected: float) -> tuple[float, str | None]:
    """The accuracy `evaluate` reported, and a note when it came in another unambiguous form.

    The notebook asks for a float. The 2024 notebooks returned `(accuracy, loss)`, and some students
    return a dict: from a pair, the element equal to the grader's own count is the accuracy (else the
    first, which the failure then quotes); from a dict, its "accuracy" entry. One-element tensors and
    numpy numbers are read as ``as_number`` reads them.
    """
    if isinstance(value, dict) and "accuracy" in value:
        number, _ = as_number(value["accuracy"], "evaluate")
        return number, 'evaluate returned a dict; its "accuracy" entry was graded. Return just the float.'
    if not (isinstance(value, tuple | list) and 1 <= len(value) <= 2):
        return as_number(value, "evaluate")
    read = []
    for item in value:
        try:
            read.append(as_number(item, "evaluate")[0])
        except NotANumber:
            continue
    if not read:
        raise NotANumber(f"evaluate returned {describe(value)} holding no number; expected a number")
    chosen = next((index for index, number in enumerate(read) if within(abs(number - expected), 1e-6)), 0)
    place = ("first", "second")[chosen] if len(read) > 1 else "only"
    return read[chosen], (
        f"evaluate returned a {type(value).__name__} of {len(value)}; its {place} element was graded as "
        "the accuracy. Return just the accuracy, as a float."
    )
