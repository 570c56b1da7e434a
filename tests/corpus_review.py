"""``make corpus``: regrade the corpus and bring each expected.toml up to date, for review.

When the grader or the table changes what a submission scores (a new question, a new check, a new
message), the corpus expectations follow from one command instead of edits by hand:

    make corpus                      # every section; writes the files and prints their diff
    make corpus ARGS="--sections 1"  # only §1
    make corpus ARGS="--tests 2.1.16"  # only these tests, in their sections (a new question)
    make corpus ARGS="--check"       # print the diff, write nothing, exit 1 if anything changed

Each submission of ``tests/submissions/a2sN/`` (plus the reference and the untouched template, which
are checked but have no entry) is graded through the CLI. In its entry of ``expected.toml`` only two
lines can change: ``failed`` becomes the tests it now fails, in table order, and ``diagnosis`` keeps
the words that each test's feedback still contains (passed tests' notes included). Everything else, comments
included, stays as written. A test that newly fails gets no words (a person chooses them): the
command prints the first line of its feedback instead. Review the diff; `git checkout` rejects it.
With ``--tests``, only those tests are graded: every other test keeps its verdict and its words.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from corpus_grading import (
    CORPUS_ROOT,
    Expectation,
    Submission,
    corpus,
    corpus_file,
    failed_tests,
    grade_all,
    handout_exports,
)

from grader.table import load_table

HEADER = re.compile(r"^\[([A-Za-z0-9_-]+)\]\s*$")


@dataclass(frozen=True)
class Observed:
    """What grading one corpus file gave: the tests it failed and every graded test's feedback."""

    failed: tuple[str, ...]
    feedback: dict[str, str]


def toml_list(numbers: tuple[str, ...]) -> str:
    return json.dumps(list(numbers))


def toml_inline_table(entries: dict[str, str]) -> str:
    pairs = [f"{json.dumps(key)} = {json.dumps(words, ensure_ascii=False)}" for key, words in entries.items()]
    return "{ " + ", ".join(pairs) + " }"


def _entries(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Each ``[name]`` of the file: the index of its header line and the index where it ends."""
    starts = [(index, match.group(1)) for index, line in enumerate(lines) if (match := HEADER.match(line))]
    bounds = {}
    for position, (index, name) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        while end > index + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1
        bounds[name] = (index, end)
    return bounds


def updated_entry(body: list[str], old_diagnosis: dict[str, str], observed: Observed) -> list[str]:
    """An entry's lines (without its header) with ``failed`` and ``diagnosis`` set from ``observed``.

    Both are rewritten where they stand, so the entry's other keys (``flagged``, comments) keep their
    place and an unchanged corpus gives back its file byte for byte.
    """
    diagnosis = {
        number: words for number, words in old_diagnosis.items() if words in observed.feedback.get(number, "")
    }
    lines = list(body)
    failed_at = next((i for i, line in enumerate(lines) if line.startswith("failed =")), None)
    if failed_at is None:
        lines.insert(0, "")
        failed_at = 0
    lines[failed_at] = f"failed = {toml_list(observed.failed)}"
    diagnosis_at = next((i for i, line in enumerate(lines) if line.startswith("diagnosis =")), None)
    if diagnosis_at is not None:
        del lines[diagnosis_at]
    if diagnosis:
        lines.insert(
            failed_at + 1 if diagnosis_at is None else diagnosis_at,
            f"diagnosis = {toml_inline_table(diagnosis)}",
        )
    return lines


def updated_expectations(text: str, observed: dict[str, Observed], old: dict[str, dict]) -> str:
    """The text of expected.toml with every observed entry brought up to date; new files appended."""
    lines = text.splitlines()
    bounds = _entries(lines)
    for name, (start, end) in sorted(bounds.items(), key=lambda item: -item[1][0]):
        if name in observed:
            body = updated_entry(lines[start + 1 : end], old[name].get("diagnosis", {}), observed[name])
            lines[start + 1 : end] = body
    for name in observed.keys() - bounds.keys():
        lines += ["", f"[{name}]", f"failed = {toml_list(observed[name].failed)}"]
    return "\n".join(lines) + "\n"


def observe(results: dict, order: list[str], before: Expectation) -> Observed:
    """The verdicts of ``results``; a test it did not grade keeps ``before``'s verdict and words."""
    graded = {test["number"]: test.get("output", "") for test in results["tests"]}
    failed = failed_tests(results) | (before.failed - graded.keys())
    kept = {number: words for number, words in before.diagnosis.items() if number not in graded}
    return Observed(tuple(number for number in order if number in failed), {**kept, **graded})


def review_section(number: int, write: bool, only: frozenset[str] | None = None) -> bool:
    """Regrade one section's corpus (on the tests ``only`` names, if given); print the diff of its
    expected.toml; True if it changed."""
    table = load_table()
    stem = table.sections[number].file
    path = CORPUS_ROOT / stem.lower() / "expected.toml"
    order = [row.number for row in table.tests if row.section == number]
    submissions = corpus(stem)
    names = {submission.name for submission in submissions}
    new_files = [
        found.stem
        for pattern in ("*.py", "*.ipynb")
        for found in sorted(path.parent.glob(pattern))
        if found.stem not in names
    ]
    submissions += _new_submissions(stem, new_files)
    exports = handout_exports(stem, number)
    with tempfile.TemporaryDirectory(prefix="a2-corpus-") as workdir:
        results = grade_all(submissions + exports, number, Path(workdir), only)
    for export in exports:
        got = failed_tests(results[export.name])
        expected = export.expectation.failed & {test["number"] for test in results[export.name]["tests"]}
        if got != expected:
            print(f"{stem}: {export.name} fails {sorted(got)}, expected {sorted(expected)}")
    observed = {s.name: observe(results[s.name], order, s.expectation) for s in submissions}
    text = path.read_text(encoding="utf-8")
    proposed = updated_expectations(text, observed, tomllib.loads(text))
    diff = list(difflib.unified_diff(text.splitlines(True), proposed.splitlines(True), str(path), str(path)))
    sys.stdout.writelines(diff)
    _print_new_failures(stem, submissions, observed)
    if write and diff:
        path.write_text(proposed, encoding="utf-8")
    return bool(diff)


def _new_submissions(stem: str, names: list[str]) -> list[Submission]:
    """Corpus files without an entry yet, graded as if they were expected to pass."""
    paths = [corpus_file(stem, name) for name in names]
    return [
        Submission(path.stem, path.read_text(), Expectation(frozenset(), upload_as=f"{stem}{path.suffix}"))
        for path in paths
    ]


def _print_new_failures(stem: str, submissions: list[Submission], observed: dict[str, Observed]) -> None:
    for submission in submissions:
        for number in observed[submission.name].failed:
            if number in submission.expectation.failed:
                continue
            first = observed[submission.name].feedback[number].strip().splitlines()[0]
            print(f"{stem}/{submission.name} now fails {number}: {first}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", help="only these sections, e.g. 1,2 (default: all)")
    parser.add_argument(
        "--tests",
        help="only these tests, e.g. 2.1.16 (default: all): each section holding one is regraded on "
        "them alone, and every other test keeps its verdict and words",
    )
    parser.add_argument(
        "--check", action="store_true", help="print the diff, write nothing, exit 1 if anything changed"
    )
    args = parser.parse_args(argv)
    table = load_table()
    sections = sorted(table.sections)
    if args.sections:
        sections = [int(part) for part in args.sections.split(",")]
    only = None
    if args.tests:
        only = frozenset(part.strip() for part in args.tests.split(","))
        unknown = sorted(only - {row.number for row in table.tests})
        if unknown:
            parser.error(f"no such test in the table: {', '.join(unknown)}")
        holding = {table.test(number).section for number in only}
        sections = [number for number in sections if number in holding]
    changed = [number for number in sections if review_section(number, not args.check, only)]
    if not changed:
        print("The corpus expectations match what the grader gives.")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
