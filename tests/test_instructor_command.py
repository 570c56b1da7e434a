"""`python -m grader` is the one command of the course staff: every task is a verb with examples, the
builders outside the grader run as processes of their own with the words given, and where a builder
is absent (the autograder image) its verb says so in one line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from a2.sections.s3 import prepare
from grader.cli import main
from grader.cluster import forward_keys, localslurm
from grader.commands.builders import BUILDERS
from gradescope.package import zip_entries

REPO = Path(__file__).resolve().parent.parent
VERBS = (
    "handout",
    "release",
    "package",
    "prepare",
    "grade",
    "batch",
    "preflight",
    "demo",
    "slurm",
    "forward",
)
# The entry points a verb replaces: the pages show the verb instead.
OLD_ENTRY_POINTS = (
    "-m handout",
    "-m gradescope.package",
    "-m a2.sections.s3.prepare",
    "-m grader.cluster.localslurm",
    "-m grader.cluster.forward_keys",
)


def _exit_status(argv: list[str]) -> int:
    """What `python -m grader ARGV` exits with, run in this process."""
    try:
        return main(argv)
    except SystemExit as exit:
        return int(exit.code or 0)


def _grader_process(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m grader ARGV` run as the staff run it: a process of its own, in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def _listed_verbs(help_text: str) -> dict[str, str]:
    """The verbs of `python -m grader --help` and the one line of each."""
    block = help_text.split("\n  VERB\n", 1)[1].split("\n\n", 1)[0]
    lines = block.splitlines()
    assert all(re.fullmatch(r"    [a-z][a-z-]* {2,}\S.*", line) for line in lines), block
    return {line.split()[0]: line.split(None, 1)[1] for line in lines}


def test_the_top_level_help_lists_every_verb_on_one_line(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert _exit_status(["--help"]) == 0
    printed = capsys.readouterr().out
    listed = _listed_verbs(printed)
    assert set(VERBS) <= set(listed), listed
    assert "examples:\n  python -m grader " in printed


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_a_description_and_examples(verb: str, capfd, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert _exit_status([verb, "--help"]) == 0
    printed = capfd.readouterr().out
    assert printed.startswith(f"usage: python -m grader {verb} ")
    description = printed.split("\n\n", 2)[1]
    assert len(description.split()) >= 5, description
    examples = printed.split("\nexamples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples and all(line.startswith("  ") for line in examples), examples
    assert any(f"python -m grader {verb}" in line for line in examples), examples


@pytest.mark.parametrize("verb", sorted(BUILDERS))
def test_a_builder_verb_shows_the_builders_own_options(verb: str, capfd) -> None:
    assert _exit_status([verb, "--help"]) == 0
    printed = capfd.readouterr().out
    builder = BUILDERS[verb]
    ours, theirs = printed.split(f"The options of `python -m {builder.module}`:\n", 1)
    assert "examples:" in ours
    assert theirs.lstrip().startswith(f"usage: python -m {builder.module}")
    if verb in ("release", "package"):
        assert "--course {447,517}" in theirs


def test_a_builder_verb_passes_every_word_through_and_returns_the_builders_status(tmp_path: Path) -> None:
    """Run as the staff run it, from another folder: the builder beside this grader gets the words."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    zip_path = tmp_path / "a.zip"
    built = _grader_process(["package", "--course", "517", "--output", str(zip_path)], tmp_path, env)
    assert built.returncode == 0, built.stdout + built.stderr
    assert f"Wrote {zip_path}" in built.stdout and "CSE 517" in built.stdout
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.read("COURSE").decode().strip() == "517"
    refused = _grader_process(["release", "--course", "999"], tmp_path, env)
    assert refused.returncode == 2 and "invalid choice: '999'" in refused.stderr, refused.stderr
    assert "usage: python -m handout.release" in refused.stderr


@pytest.fixture(scope="module")
def autograder_image(tmp_path_factory) -> Path:
    """The files of the autograder zip, unpacked: the grader, without handout/ or gradescope/package.py."""
    root = tmp_path_factory.mktemp("image")
    for name, source in zip_entries(REPO).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / name)
    assert not (root / "handout").exists() and not (root / "gradescope" / "package.py").exists()
    return root


@pytest.mark.parametrize(
    ("verb", "words"),
    [("handout", []), ("release", ["--course", "447"]), ("package", ["--course", "447", "--gpu"])],
)
def test_where_the_builder_is_absent_its_verb_says_so_in_one_line(
    verb: str, words: list[str], autograder_image: Path
) -> None:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    finished = _grader_process([verb, *words], autograder_image, env)
    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert finished.stdout == ""
    (line,) = finished.stderr.splitlines()
    builder = BUILDERS[verb]
    assert line.startswith(f"error: `python -m grader {verb}` runs `python -m {builder.module}`")
    assert builder.source in line and f"e.g. `{builder.examples[0]}`" in line


def test_where_the_builder_is_absent_its_help_still_works(autograder_image: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    finished = _grader_process(["release", "--help"], autograder_image, env)
    assert finished.returncode == 0 and finished.stderr == "", finished.stderr
    assert "examples:" in finished.stdout
    assert finished.stdout.rstrip().splitlines()[-1].startswith("error: `python -m grader release` runs")


def test_an_in_process_verb_runs_its_modules_command(capsys) -> None:
    assert _exit_status(["prepare", "no-such-profile"]) == 2
    assert "no-such-profile" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("module", "prog"),
    [
        (prepare, "python -m a2.sections.s3.prepare"),
        (localslurm, "python -m grader.cluster.localslurm"),
        (forward_keys, "python -m grader.cluster.forward_keys"),
    ],
)
def test_the_old_entry_points_still_work_with_the_same_help(module, prog: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        module.main(["--help"])
    assert exit.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: {prog} ") and "\nexamples:\n  " in printed


def test_the_make_targets_run_the_verbs() -> None:
    planned = subprocess.run(
        ["make", "-n", "handout", "release", "autograder", "demo", "COURSE=447", "GPU=1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in (
        "-m grader handout",
        "-m grader release --course 447",
        "-m grader package --course 447 --gpu",
        "-m grader demo",
    ):
        assert command in planned, planned


def test_the_pages_show_the_verbs_not_the_entry_points_they_replace() -> None:
    pages = [REPO / "README.md", REPO / "Makefile", *sorted((REPO / "docs").glob("*.md"))]
    found = [
        f"{page.relative_to(REPO)}: {old}"
        for page in pages
        for old in OLD_ENTRY_POINTS
        if re.search(re.escape(old) + r"(?![\w.])", page.read_text(encoding="utf-8"))
    ]
    assert found == []
