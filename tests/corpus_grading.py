"""Grades a corpus of hand-written submissions through the real CLI and states what each must score.

Each corpus folder (tests/submissions/a2sN/) holds submissions as students export them and an
``expected.toml`` saying which tests each must fail and what the feedback must name. The test
modules grade every submission once (two grader processes at a time) and assert on the results.
The reference notebook and the untouched student template, exported the way Colab exports them,
are graded alongside the corpus.

The corpora of whole uploads (tests/submissions/realistic/, tests/submissions/honest/) hold one
folder per student instead: ``submission/`` is exactly what was uploaded and ``expected.toml`` the
grade a careful TA gives (``sections``, ``failed``, optional ``messages``, ``silent``, ``summary``);
``grade_cases`` and ``assert_the_grade`` below serve both.
"""

import json
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.table import load_table
from handout.colab_export import export_source
from handout.markers import strip_solutions

REPO = Path(__file__).resolve().parents[1]
CORPUS_ROOT = REPO / "tests" / "submissions"
#: Submissions graded at once: the CI machine has two cores.
PARALLEL_GRADERS = 2
GRADE_TIMEOUT_S = 600


@dataclass(frozen=True)
class Expectation:
    """What grading one submission must give."""

    failed: frozenset[str]
    diagnosis: dict[str, str] = field(default_factory=dict)
    upload_as: str = ""
    #: Tests left out of this file's grading (the entry's `why` says for what reason).
    not_run: frozenset[str] = frozenset()
    #: Whether results.json's extra_data.integrity must flag it (docs/verdicts.md).
    flagged: bool = False


@dataclass(frozen=True)
class Submission:
    name: str
    text: str
    expectation: Expectation


def corpus_file(stem: str, name: str) -> Path:
    """The corpus file ``name`` of notebook ``stem``: an exported .py or a notebook."""
    folder = CORPUS_ROOT / stem.lower()
    return next(path for path in (folder / f"{name}.py", folder / f"{name}.ipynb") if path.is_file())


def corpus(stem: str) -> list[Submission]:
    """The corpus of notebook ``stem`` (e.g. "A2S2"), each file with its expectation."""
    folder = CORPUS_ROOT / stem.lower()
    table = tomllib.loads((folder / "expected.toml").read_text())
    submissions = []
    for name, spec in table.items():
        path = corpus_file(stem, name)
        expectation = Expectation(
            frozenset(spec["failed"]),
            spec.get("diagnosis", {}),
            spec.get("upload_as", f"{stem}{path.suffix}"),
            frozenset(spec.get("not_run", ())),
            spec.get("flagged", False),
        )
        submissions.append(Submission(name, path.read_text(), expectation))
    return submissions


def corpus_files(stem: str) -> set[str]:
    folder = CORPUS_ROOT / stem.lower()
    return {path.stem for pattern in ("*.py", "*.ipynb") for path in folder.glob(pattern)}


def handout_exports(stem: str, section: int) -> list[Submission]:
    """The reference solution (full marks) and the untouched template (nothing implemented yet)."""
    relative = f"reference/{stem}.py"
    source = (REPO / relative).read_text()
    every_test = frozenset(row.number for row in load_table().tests if row.section == section)
    exports = []
    for name, text, failed in (
        ("reference_colab_export", source, frozenset()),
        ("template_colab_export", strip_solutions(source, relative), every_test),
    ):
        export = export_source(text, stem, relative)
        diagnosis = {number: "not implemented yet" for number in failed}
        exports.append(Submission(name, export, Expectation(failed, diagnosis, f"{stem}.py")))
    return exports


def grade_all(
    submissions: list[Submission], section: int, workdir: Path, only: frozenset[str] | None = None
) -> dict[str, dict]:
    """Grade every submission with ``python -m grader grade``; results.json of each, by name.

    A submission whose expectation leaves tests out (``not_run``) is graded on the section's other
    tests only (``--tests``); ``only``, when given, narrows every grading to those tests.
    """
    numbers = [row.number for row in load_table().tests if row.section == section]

    def grade_one(submission: Submission) -> dict:
        folder = workdir / submission.name
        target = folder / "submission" / submission.expectation.upload_as
        target.parent.mkdir(parents=True)
        target.write_text(submission.text)
        results = folder / "results.json"
        command = [sys.executable, "-m", "grader", "grade", str(folder / "submission")]
        left_out = submission.expectation.not_run
        graded = [n for n in numbers if n not in left_out and (only is None or n in only)]
        chosen = ["--tests", ",".join(graded)] if left_out or only is not None else []
        command += ["--results", str(results), "--sections", str(section), *chosen, "--quiet"]
        subprocess.run(command, cwd=REPO, check=True, timeout=GRADE_TIMEOUT_S, capture_output=True)
        return json.loads(results.read_text())

    with ThreadPoolExecutor(PARALLEL_GRADERS) as pool:
        return dict(zip((s.name for s in submissions), pool.map(grade_one, submissions), strict=True))


def failed_tests(results: dict) -> set[str]:
    return {test["number"] for test in results["tests"] if test["status"] == "failed"}


def score_without(section: int, failed: frozenset[str]) -> float:
    """The score a submission gets when it fails exactly ``failed`` (extra credit included)."""
    return sum(
        row.points for row in load_table().tests if row.section == section and row.number not in failed
    )


def flagged(results: dict) -> bool:
    """Whether the run raised the staff's integrity flag."""
    return results["extra_data"]["integrity"]["flagged"]


def output_of(results: dict, number: str) -> str:
    return next(test["output"] for test in results["tests"] if test["number"] == number)


#: Words that would mean a student-facing message leaked one of our internal names or a traceback.
INTERNAL = (
    "module 'student'",
    "Traceback (most recent call last)",
    "internal error",
    "grader.sandbox",
    "a2.sections",
    "<definition>",
)


def case_names(folder: Path) -> list[str]:
    """The cases of a corpus of whole uploads: one folder each."""
    return sorted(path.name for path in folder.iterdir() if path.is_dir())


def case_expectation(folder: Path, name: str) -> dict:
    return tomllib.loads((folder / name / "expected.toml").read_text())


def grade_cases(folder: Path, names: list[str], workdir: Path) -> dict[str, dict]:
    """results.json of each named case of ``folder``, graded on its ``sections`` (two at a time)."""

    def grade_one(name: str) -> dict:
        results = workdir / f"{name}.json"
        sections = ",".join(str(section) for section in case_expectation(folder, name)["sections"])
        command = [sys.executable, "-m", "grader", "grade", str(folder / name / "submission")]
        command += ["--results", str(results), "--sections", sections, "--quiet"]
        subprocess.run(command, cwd=REPO, check=True, timeout=GRADE_TIMEOUT_S, capture_output=True)
        return json.loads(results.read_text())

    with ThreadPoolExecutor(PARALLEL_GRADERS) as pool:
        return dict(zip(names, pool.map(grade_one, names), strict=True))


def selected_cases(request) -> list[str]:
    """The case names a run selected (``-k`` included) among the requesting module's parametrised tests."""
    return sorted(
        {
            item.callspec.params["name"]
            for item in request.session.items
            if item.module is request.module and hasattr(item, "callspec")
        }
    )


def leaked_internals(results: dict) -> list[str]:
    """Every student-facing text of ``results`` that names one of our internals."""
    texts = [results["output"], *(test["output"] for test in results["tests"])]
    return [text for text in texts if any(internal in text for internal in INTERNAL)]


def assert_the_grade(expected: dict, results: dict) -> None:
    """``results`` fail exactly ``expected["failed"]``, score accordingly and say what it names."""
    assert failed_tests(results) == set(expected["failed"])
    failed = frozenset(expected["failed"])
    assert results["score"] == pytest.approx(sum(score_without(s, failed) for s in expected["sections"]))
    for number, words in expected.get("messages", {}).items():
        for word in words:
            assert word in output_of(results, number), (number, word)
    for number in expected.get("silent", []):
        assert output_of(results, number) == "", number
    for word in expected.get("summary", []):
        assert word in results["output"], word
