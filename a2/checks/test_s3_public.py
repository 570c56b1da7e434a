"""§3 public checks: SST2Dataset and collate_fn, each on the profile's tokenizer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from a2.sections.s3.feedback import collate_problems, raise_probe_error, unit_examples
from a2.sections.s3.resources import load_resources
from grader.errors import GradingFailure
from grader.replies import UnusableReply

if TYPE_CHECKING:
    from a2.records import A2Profile
    from grader.checks_api import SectionAPI

PROBES = "a2.sections.s3.drivers.probes"
PROBE_TIMEOUT = 120


@pytest.mark.graded("3.1.1")
def test_dataset_length_indexing_iteration(a2s3: SectionAPI, profile: A2Profile) -> None:
    resources = load_resources(profile)
    examples = unit_examples(7, seed=311)
    reply = raise_probe_error(
        a2s3.run(
            f"{PROBES}:probe_dataset",
            {"model_dir": resources.model_dir, "examples": examples},
            timeout=PROBE_TIMEOUT,
            uses=("SST2Dataset",),
        ),
        "SST2Dataset",
        {"items": list, "iterated": list},
    )
    expected = [[e["text"], e["label"]] for e in examples]
    if len(reply["items"]) != len(examples):
        raise UnusableReply("SST2Dataset", "no record of each item")
    if reply.get("length") != len(examples):
        raise GradingFailure(f"len() of a dataset of {len(examples)} examples gave {reply.get('length')}.")
    for index, (got, want) in enumerate(zip(reply["items"], expected, strict=True)):
        if got != want:
            raise GradingFailure(
                f"dataset[{index}] gave {got!r}; expected the SST2Example of example {index} "
                f"(text {want[0]!r}, label {want[1]})."
            )
    if reply["iterated"] != expected:
        raise GradingFailure(
            f"Iterating over a dataset of {len(examples)} examples gave {len(reply['iterated'])} items that "
            "are not its SST2Example objects in order."
        )


@pytest.mark.graded("3.1.2")
def test_collate_fn_keys_dtypes_padding_labels(a2s3: SectionAPI, profile: A2Profile) -> None:
    resources = load_resources(profile)
    batches = [unit_examples(10, seed=312), unit_examples(7, seed=313)]
    reply = raise_probe_error(
        a2s3.run(
            f"{PROBES}:probe_collate",
            {"model_dir": resources.model_dir, "batches": batches},
            timeout=PROBE_TIMEOUT,
            uses=("SST2Dataset",),
        ),
        "SST2Dataset.collate_fn",
        {"batches": list},
    )
    tokenizer = resources.tokenizer()
    if len(reply["batches"]) != len(batches) or not all(isinstance(b, dict) for b in reply["batches"]):
        raise UnusableReply("SST2Dataset.collate_fn", "no record of each batch")
    for batch_reply, examples in zip(reply["batches"], batches, strict=True):
        problems = collate_problems(batch_reply, tokenizer, examples)
        if problems:
            raise GradingFailure(" ".join(problems))
