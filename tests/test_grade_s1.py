"""§1 graded end to end: every corpus submission, the reference and the template, through the CLI."""

import pytest
from corpus_grading import (
    corpus,
    corpus_files,
    failed_tests,
    grade_all,
    handout_exports,
    output_of,
    score_without,
)

SECTION = 1
SUBMISSIONS = corpus("A2S1") + handout_exports("A2S1", SECTION)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_all(SUBMISSIONS, SECTION, tmp_path_factory.mktemp("a2s1"))


def test_every_corpus_file_states_what_it_must_score():
    assert corpus_files("A2S1") == {s.name for s in corpus("A2S1")}


@pytest.mark.parametrize("submission", SUBMISSIONS, ids=lambda s: s.name)
def test_submission_fails_exactly_its_tests_and_the_feedback_names_why(graded, submission):
    results = graded[submission.name]
    assert failed_tests(results) == submission.expectation.failed
    assert results["score"] == pytest.approx(score_without(SECTION, submission.expectation.failed))
    for number, words in submission.expectation.diagnosis.items():
        assert words in output_of(results, number), number
