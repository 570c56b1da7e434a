"""§3 graded end to end on the offline profile: the corpus, the reference and the template.

Every submission goes through ``python -m grader grade`` (two at a time), except those whose
``expected.toml`` entry leaves tests out (``not_run``): they are graded in this process by the same
runner with only the other tests selected (`RunOptions.tests`), and every other test is asserted as usual.
"""

import os
import re
import tomllib

import pytest
from corpus_grading import (
    CORPUS_ROOT,
    Expectation,
    Submission,
    failed_tests,
    flagged,
    grade_all,
    handout_exports,
    output_of,
)

from a2.assets import offline_assets
from grader.grading_run import RunOptions, grade_submission
from grader.table import load_table

SECTION = 3
FOLDER = CORPUS_ROOT / "a2s3"
EXPECTED = tomllib.loads((FOLDER / "expected.toml").read_text())


def corpus_file(name: str):
    return next(path for path in (FOLDER / f"{name}.py", FOLDER / f"{name}.ipynb") if path.is_file())


def corpus() -> list[Submission]:
    submissions = []
    for name, spec in EXPECTED.items():
        path = corpus_file(name)
        expectation = Expectation(
            frozenset(spec["failed"]), spec.get("diagnosis", {}), spec.get("upload_as", f"A2S3{path.suffix}")
        )
        submissions.append(Submission(name, path.read_text(), expectation))
    return submissions


SUBMISSIONS = corpus() + handout_exports("A2S3", SECTION)
NOT_RUN = {name: set(spec.get("not_run", ())) for name, spec in EXPECTED.items()}


def grade_leaving_out(submission: Submission, left_out: set[str], workdir) -> dict:
    """Grade in this process with the ``left_out`` rows outside the selection (see the module doc)."""
    numbers = {row.number for row in load_table().tests if row.section == SECTION} - left_out
    target = workdir / submission.name / "submission" / submission.expectation.upload_as
    target.parent.mkdir(parents=True)
    target.write_text(submission.text)
    options = RunOptions(target.parent, workdir / submission.name / "results.json", tests=numbers)
    return grade_submission(options)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("a2s3")
    through_cli = [s for s in SUBMISSIONS if not NOT_RUN.get(s.name)]
    results = grade_all(through_cli, SECTION, workdir)
    for submission in SUBMISSIONS:
        if NOT_RUN.get(submission.name):
            results[submission.name] = grade_leaving_out(submission, NOT_RUN[submission.name], workdir)
    return results


def test_every_corpus_file_states_what_it_must_score():
    files = {path.stem for path in FOLDER.iterdir() if path.suffix in (".py", ".ipynb")}
    assert files == set(EXPECTED)
    assert sum(name.startswith("bug_") for name in EXPECTED) >= 10
    assert {corpus_file(name).suffix for name in EXPECTED} == {".py", ".ipynb"}


@pytest.mark.parametrize("submission", SUBMISSIONS, ids=lambda s: s.name)
def test_submission_fails_exactly_its_tests_and_the_feedback_names_why(graded, submission):
    results = graded[submission.name]
    left_out = NOT_RUN.get(submission.name, set())
    rows = [row for row in load_table().tests if row.section == SECTION and row.number not in left_out]
    assert {test["number"] for test in results["tests"]} == {row.number for row in rows}
    assert failed_tests(results) == submission.expectation.failed
    assert not flagged(results)
    passed_points = sum(row.points for row in rows if row.number not in submission.expectation.failed)
    assert results["score"] == pytest.approx(passed_points)
    for number, words in submission.expectation.diagnosis.items():
        assert words in output_of(results, number), number


def test_the_cpu_stand_in_says_so_and_posts_nothing_on_the_leaderboard(graded):
    accuracies = {}
    for name in ("reference_colab_export", "correct_colab", "bug_no_zero_grad"):
        results = graded[name]
        output = output_of(results, "3.5.1")
        assert "on a small stand-in, not SST-2" in output and "the stand-in's own settings" in output
        assert "leaderboard" not in results, "the stand-in's accuracy is not an SST-2 accuracy"
        accuracies[name] = float(re.search(r"reached an accuracy of ([0-9.]+)", output)[1])
    assert accuracies["correct_colab"] >= load_table().profile("offline").threshold
    assert accuracies["bug_no_zero_grad"] < 0.7


@pytest.mark.skipif(
    os.geteuid() != 0, reason="only a grader running as root runs student code as another user"
)
def test_student_code_cannot_read_the_held_out_labels(tmp_path):
    """A pipeline that opens the offline test split from train_one_epoch is refused by the file system."""
    heldout = offline_assets().split_file("test")
    text = (FOLDER / "correct_colab.py").read_text()
    cheat = text.replace(
        "    model.train()\n", f"    model.train()\n    stolen = open({str(heldout)!r}).read()\n", 1
    )
    assert cheat != text
    submission = Submission("cheat_reads_heldout", cheat, Expectation(frozenset(), {}, "A2S3.py"))
    results = grade_all([submission], SECTION, tmp_path)["cheat_reads_heldout"]
    assert failed_tests(results) == {"3.3.2", "3.5.1"}
    # Absent from the child's private root, or closed by permissions where there is no namespace.
    refused = output_of(results, "3.3.2")
    assert "FileNotFoundError" in refused or "PermissionError" in refused
