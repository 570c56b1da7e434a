"""§3 hidden checks: truncation, compute_accuracy, train_one_epoch, evaluate, and the threshold run."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
import torch

from a2.sections.s3 import reference_steps
from a2.sections.s3.accuracy import heldout_accuracy
from a2.sections.s3.batches import encode_batch, probe_model
from a2.sections.s3.feedback import raise_probe_error, unit_examples
from a2.sections.s3.hidden_feedback import (
    epoch_message,
    evaluation_problems,
    long_example,
    observations_readable,
    reported_accuracy,
    training_problems,
    training_record_readable,
    truncation_problem,
)
from a2.sections.s3.resources import OFFLINE, load_resources
from grader.comparison import NotANumber, as_number, within
from grader.errors import GradingFailure, StaffSetupFailure
from grader.replies import UnusableReply

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from a2.records import A2Profile
    from grader.checks_api import Leaderboard, Note, SectionAPI
    from grader.table import AssignmentTable

PROBES = "a2.sections.s3.drivers.probes"
THRESHOLD_DRIVER = "a2.sections.s3.drivers.threshold:train_for_threshold"
PROBE_TIMEOUT = 120
#: Seconds of the threshold test's limit kept for the grader's own accuracy count.
COUNTING_MARGIN = 60
log = logging.getLogger("grader")


@pytest.mark.graded("3.1.3")
def test_collate_fn_truncates_at_512_tokens(a2s3: SectionAPI, profile: A2Profile, hidden_seed: int) -> None:
    resources = load_resources(profile)
    batch = [long_example(resources.tokenizer(), seed=hidden_seed)] + unit_examples(2, seed=hidden_seed + 1)
    reply = raise_probe_error(
        a2s3.run(
            f"{PROBES}:probe_collate",
            {"model_dir": resources.model_dir, "batches": [batch]},
            timeout=PROBE_TIMEOUT,
            uses=("SST2Dataset",),
        ),
        "SST2Dataset.collate_fn",
        {"batches": list},
    )
    if len(reply["batches"]) != 1 or not isinstance(reply["batches"][0], dict):
        raise UnusableReply("SST2Dataset.collate_fn", "no record of the batch")
    problem = truncation_problem(reply["batches"][0])
    if problem:
        raise GradingFailure(problem)


def _accuracy_cases(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Predictions and labels of several lengths, drawn from the run's secret."""
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for length in (10, 4, 3, 17):
        labels = torch.randint(0, 2, (length,), generator=generator)
        flips = torch.rand(length, generator=generator) < 0.4
        cases.append((torch.where(flips, 1 - labels, labels), labels))
    return cases


@pytest.mark.graded("3.3.1")
def test_compute_accuracy(a2s3: SectionAPI, note: Note, hidden_seed: int) -> None:
    notes: set[str] = set()
    for predictions, labels in _accuracy_cases(hidden_seed):
        agree, total = int((predictions == labels).sum()), len(labels)
        try:
            got, how = as_number(a2s3.call("compute_accuracy", (predictions, labels)), "compute_accuracy")
        except NotANumber as wrong:
            raise GradingFailure(f"{wrong}: the fraction of predictions that equal their labels.") from None
        if not within(abs(got - agree / total), 1e-6):
            raise GradingFailure(
                f"compute_accuracy gave {got!r} for {total} predictions of which {agree} equal their labels; "
                f"expected {agree / total:g}, the fraction that agree."
            )
        if how:
            notes.add(how)
    for text in sorted(notes):
        note(text)


@pytest.mark.graded("3.3.2")
def test_train_one_epoch(a2s3: SectionAPI, profile: A2Profile, hidden_seed: int) -> None:
    resources = load_resources(profile)
    examples, batch_size, learning_rate = unit_examples(24, seed=hidden_seed), 8, 1e-2
    params = {
        "model_dir": resources.model_dir,
        "examples": examples,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": hidden_seed,
    }
    reply = raise_probe_error(
        a2s3.run(f"{PROBES}:probe_train_one_epoch", params, timeout=PROBE_TIMEOUT, uses=("train_one_epoch",)),
        "train_one_epoch",
        {"passes": list},
    )
    device = "cuda" if profile.device == "cuda" and torch.cuda.is_available() else "cpu"
    epoch = reference_steps.Epoch(
        resources.model_dir, examples, batch_size, learning_rate, hidden_seed, device
    )
    verdict = reference_steps.judge_epoch(reply["passes"], epoch)
    if verdict.right:
        return
    if verdict.found == "unreadable":
        raise UnusableReply("train_one_epoch", "no readable record of the weights at each step")
    observed = training_problems(reply) if training_record_readable(reply) else []
    raise GradingFailure(epoch_message(verdict, observed))


def _labels_for_known_accuracy(
    model_dir: str,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[dict[str, Any]],
    batch_size: int,
    wrong_every: int,
) -> float:
    """Relabel ``examples`` from the probe model's own predictions (batched as ``evaluate`` receives
    them), flipping every ``wrong_every``-th label; return the accuracy ``evaluate`` must report."""
    model = probe_model(model_dir).eval()
    predictions: list[int] = []
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            encoding = encode_batch(tokenizer, examples[start : start + batch_size])["text_encoding"]
            predictions += model(**encoding).logits.argmax(dim=-1).tolist()
    for index, (example, prediction) in enumerate(zip(examples, predictions, strict=True)):
        example["label"] = prediction if index % wrong_every else 1 - prediction
    return sum(1 for i in range(len(examples)) if i % wrong_every) / len(examples)


@pytest.mark.graded("3.3.3")
def test_evaluate(a2s3: SectionAPI, profile: A2Profile, note: Note, hidden_seed: int) -> None:
    resources = load_resources(profile)
    count = 30 + hidden_seed % 60
    examples = unit_examples(count, seed=hidden_seed)
    batch_size = 16
    expected = _labels_for_known_accuracy(
        resources.model_dir,
        resources.tokenizer(),
        examples,
        batch_size,
        wrong_every=2 + hidden_seed // 60 % 5,
    )
    params = {"model_dir": resources.model_dir, "examples": examples, "batch_size": batch_size}
    reply = raise_probe_error(
        a2s3.run(f"{PROBES}:probe_evaluate", params, timeout=PROBE_TIMEOUT, uses=("evaluate",)),
        "evaluate",
        {"forwards": list, "unchanged": bool, "gradients": bool},
    )
    if not observations_readable(reply, ("training", "grad_enabled")):
        raise UnusableReply("evaluate", "a malformed record of the forward passes")
    try:
        accuracy, how = reported_accuracy(reply.get("accuracy"), expected)
    except NotANumber as wrong:
        raise GradingFailure(f"{wrong}: the accuracy as a float in [0, 1].") from None
    problems = evaluation_problems(reply, accuracy, expected, count)
    if problems:
        raise GradingFailure(" ".join(problems))
    if how:
        note(how)


@pytest.mark.graded("3.5.1")
def test_pipeline_finetunes_past_the_threshold(
    a2s3: SectionAPI,
    profile: A2Profile,
    table: AssignmentTable,
    cuda_available: bool,
    note: Note,
    leaderboard: Leaderboard,
) -> None:
    if profile.device == "cuda" and not cuda_available:
        raise StaffSetupFailure(
            f"The '{profile.name}' profile finetunes {profile.model} on a GPU, and no GPU was found on "
            "the machine that graded this submission, so the threshold run did not take place. This is not "
            "a problem with your code: the course staff must run the grader on a machine with a GPU."
        )
    resources = load_resources(profile)
    heldout = profile.heldout_split
    params = {
        "model_dir": resources.model_dir,
        "examples": resources.splits["train"],
        "epochs": profile.epochs,
        "batch_size": profile.batch_size,
        "learning_rate": profile.learning_rate,
        "adam_eps": profile.adam_eps,
        "seed": profile.seed,
        "device": profile.device,
    }
    timeout = table.test("3.5.1").timeout - COUNTING_MARGIN
    try:
        reply = a2s3.run(THRESHOLD_DRIVER, params, timeout=timeout, uses=("SST2Dataset", "train_one_epoch"))
    except GradingFailure as failure:
        wrapped = GradingFailure(f"While the grader finetuned the model with your pipeline: {failure}")
        # A TODO, a crash or a hang met through the driver keeps its status (the gradebook reads it).
        wrapped.status = failure.status
        raise wrapped from None
    if not isinstance(reply, dict) or "weights" not in reply:
        raise GradingFailure("Finetuning with your pipeline did not give back the trained model.")
    counting_started = time.monotonic()
    accuracy = heldout_accuracy(resources, reply["weights"], heldout, profile.device)
    log.info(
        "3.5.1: training in the sandbox took %.1f s, the held-out count %.1f s; accuracy %.4f",
        seconds if isinstance(seconds := reply.get("seconds"), int | float) else -1.0,
        time.monotonic() - counting_started,
        accuracy,
    )
    threshold = profile.threshold
    count = len(resources.splits[heldout])
    settings = (
        f"{params['epochs']} epochs, batch size {params['batch_size']}, "
        f"learning rate {params['learning_rate']:g}"
    )
    if profile.model == OFFLINE:
        # No GPU graded this run: the number is the stand-in's, says nothing about SST-2, and is posted
        # on no leaderboard.
        note(
            "No GPU was available, so this was a check of your pipeline on a small stand-in, not SST-2: "
            "the grader finetuned a tiny RoBERTa, starting from random weights, on generated SST-2-style "
            f"sentences with your SST2Dataset, collate_fn and train_one_epoch, using the stand-in's own "
            f"settings ({settings}; not the course's). It reached an accuracy of {accuracy:.4f} on {count} "
            f"held-out generated sentences, counted by the grader (threshold {threshold:g})."
        )
    else:
        note(
            f"The model finetuned with your SST2Dataset, collate_fn and train_one_epoch ({settings}) reached "
            f"an accuracy of {accuracy:.4f} on {count} held-out SST-2 sentences, counted by the grader "
            f"(threshold {threshold:g})."
        )
        leaderboard(table.assignment.leaderboard, round(accuracy, 4))
    if accuracy < threshold:
        raise GradingFailure(
            f"Finetuned with your pipeline, the model reached {accuracy:.4f} on held-out data, below the "
            f"threshold of {threshold:g}. A model near 0.5 has learned nothing: check that train_one_epoch "
            "clears the gradients, backpropagates the model's loss and steps the optimizer for every batch, "
            "and that collate_fn keeps each label with its text."
        )
    # The run the driver was given (``params``), replayed here.
    run = reference_steps.ThresholdRun(
        resources.model_dir, resources.splits["train"], profile.batch_size, profile.seed, profile.device
    )
    problem = reference_steps.first_step_problem(reply.get("prefix"), run)
    if problem is not None:
        raise GradingFailure(
            f"The grader checked the first step of this run against the gradient it computed itself on "
            f"the run's first batch: {problem}. The finetuned model must come from training with your "
            "SST2Dataset, collate_fn and train_one_epoch on the batches the dataloader hands out."
        )
