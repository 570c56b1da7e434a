"""`python -m grader demo`: grade the reference solution end to end and print the score table."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.commands import add_verb
from grader.commands.grade import configure_logging
from grader.grading_run import RunOptions, grade_submission
from grader.score_table import score_table

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "dist" / "reference_submission"
OUT = REPO_ROOT / "dist" / "demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_verb(
        subparsers,
        "demo",
        summary="grade the reference submission, print the score table",
        description="Grade dist/reference_submission/ (made by `python -m grader handout`) on the offline "
        "profile,\nwrite dist/demo/results.json and its log, and print the score table.",
        examples=("python -m grader handout && python -m grader demo", "make demo"),
    )
    parser.set_defaults(func=run)


def run(_: argparse.Namespace) -> int:
    if not SAMPLE.is_dir():
        print(f"error: {SAMPLE} does not exist; run `python -m grader handout` (or `make handout`) first")
        return 2
    configure_logging(OUT / "results.log", verbose=False)
    results = grade_submission(RunOptions(SAMPLE, OUT / "results.json", profile="offline"))
    print(score_table(results))
    print(f"\nresults: {OUT / 'results.json'}\nlog:     {OUT / 'results.log'}")
    return 0
