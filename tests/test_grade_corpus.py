"""§1 and §2.1 graded end to end: every corpus submission, the reference and the template, through the CLI.

(§3 has its own module, tests/test_grade_s3.py: its threshold runs need more than this.)
"""

import pytest
from corpus_grading import (
    corpus,
    corpus_files,
    failed_tests,
    flagged,
    grade_all,
    handout_exports,
    output_of,
    score_without,
)

NOTEBOOKS = {1: "A2S1", 2: "A2S2"}
SUBMISSIONS = {section: corpus(stem) + handout_exports(stem, section) for section, stem in NOTEBOOKS.items()}
CASES = [(section, submission) for section, submissions in SUBMISSIONS.items() for submission in submissions]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Results by section and submission name; each section's corpus is graded once, on first use."""
    results: dict[int, dict] = {}

    def of(section: int) -> dict:
        if section not in results:
            workdir = tmp_path_factory.mktemp(NOTEBOOKS[section].lower())
            results[section] = grade_all(SUBMISSIONS[section], section, workdir)
        return results[section]

    return of


@pytest.mark.parametrize("stem", NOTEBOOKS.values())
def test_every_corpus_file_states_what_it_must_score(stem):
    assert corpus_files(stem) == {s.name for s in corpus(stem)}


@pytest.mark.parametrize(
    ("section", "submission"), CASES, ids=[f"{NOTEBOOKS[section]}-{s.name}" for section, s in CASES]
)
def test_submission_fails_exactly_its_tests_and_the_feedback_names_why(graded, section, submission):
    results = graded(section)[submission.name]
    assert failed_tests(results) == submission.expectation.failed
    assert flagged(results) is submission.expectation.flagged
    assert results["score"] == pytest.approx(score_without(section, submission.expectation.failed))
    for number, words in submission.expectation.diagnosis.items():
        assert words in output_of(results, number), number
