"""`make corpus` rewrites only what grading decides in expected.toml, and nothing when nothing changed."""

from __future__ import annotations

import tomllib

import pytest
from corpus_grading import CORPUS_ROOT, Expectation
from corpus_review import Observed, observe, updated_expectations

CORPORA = ("a2s1", "a2s2", "a2s3")


def as_observed(spec: dict) -> Observed:
    """What grading gives when the submission scores exactly as its entry says."""
    feedback = {number: f"… {words} …" for number, words in spec.get("diagnosis", {}).items()}
    return Observed(tuple(spec["failed"]), feedback)


@pytest.mark.parametrize("folder", CORPORA)
def test_an_unchanged_corpus_leaves_expected_toml_byte_for_byte(folder: str) -> None:
    text = (CORPUS_ROOT / folder / "expected.toml").read_text()
    old = tomllib.loads(text)
    observed = {name: as_observed(spec) for name, spec in old.items()}
    assert updated_expectations(text, observed, old) == text


SAMPLE = """# header comment

[correct]
failed = []
upload_as = "A2S1 (2).py"

# belongs to the next entry
[buggy]
failed = ["1.2.1"]
diagnosis = { "1.2.1" = "not sharp enough" }
"""


def test_failed_follows_grading_and_stale_words_are_dropped_while_the_rest_stays() -> None:
    old = tomllib.loads(SAMPLE)
    observed = {
        "correct": Observed(("1.5.1",), {"1.5.1": "query151 is not defined"}),
        "buggy": Observed(("1.2.1", "1.5.1"), {"1.2.1": "a new message", "1.5.1": "query151 is not defined"}),
        "added": Observed((), {}),
    }
    assert updated_expectations(SAMPLE, observed, old) == (
        "# header comment\n"
        "\n"
        "[correct]\n"
        'failed = ["1.5.1"]\n'
        'upload_as = "A2S1 (2).py"\n'
        "\n"
        "# belongs to the next entry\n"
        "[buggy]\n"
        'failed = ["1.2.1", "1.5.1"]\n'
        "\n"
        "[added]\n"
        "failed = []\n"
    )


def test_regrading_some_tests_keeps_the_verdicts_and_words_of_the_others() -> None:
    """`make corpus ARGS="--tests 2.1.16"` grades one test: a failure and words of another stay."""
    before = Expectation(frozenset({"2.1.3"}), {"2.1.3": "log_softmax", "2.1.9": "loop"})
    results = {
        "tests": [
            {"number": "2.1.16", "status": "failed", "output": "attention_entropy is not defined"},
        ]
    }
    observed = observe(results, ["2.1.3", "2.1.9", "2.1.16"], before)
    assert observed.failed == ("2.1.3", "2.1.16")
    assert observed.feedback == {
        "2.1.3": "log_softmax",
        "2.1.9": "loop",
        "2.1.16": "attention_entropy is not defined",
    }
