"""Every command of the task pages in docs/ runs as written, from a copy of this checkout.

- Blocks fenced ```sh are run by bash (`set -e`, one block after the other, each page in order) from
  the root of a scratch copy of the checkout (its tracked and new files; `.venv` linked, so `make`
  finds its stamp), with `.venv/bin` first on PATH and HOME in the scratch folder, as a TA's shell
  after `make setup`. What a page assumes the TA has, the test provides: Gradescope's export as
  `export.zip` (a correct §1, the untouched template, a group; with submission times),
  `extensions.csv`, and the cluster's host key as `cluster_host_key.pub`. Then the outputs the pages
  promise are checked.
- Blocks fenced ```sh podman run in tests/test_gradescope_image.py; ```sh docker must be the same
  commands with `docker` (no Docker engine here). Blocks for another machine (```sh on-gpu-host,
  ```sh on-cluster) are checked: every `python -m …` line is parsed by that command's own argument
  parser (each option exists and takes its value; `python -m grader handout|release|package` by the
  builder's parser, which gets its words), and every `make` target exists.
- docs/writing-checks.md's commands run in tests/test_adding_a_question.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.commands.builders import BUILDERS
from grader.table import load_table

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
TASK_PAGES = ("handout.md", "grading.md", "students.md", "gradescope.md", "regrade.md", "live-s3.md")
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
ELSEWHERE = {"on-gpu-host", "on-cluster"}
CORPUS = REPO / "tests" / "submissions" / "a2s1"
METADATA = """\
submission_1:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@example.edu
  :created_at: 2024-02-09 23:01:00.000000000 -08:00
submission_2:
  :submitters:
  - :name: Alan Turing
    :sid: '1912'
    :email: alan@example.edu
  - :name: Grace Hopper
    :sid: '1906'
    :email: grace@example.edu
  :created_at: 2024-02-11 08:00:00.000000000 -08:00
"""


def blocks(page: str) -> list[tuple[str, str, str]]:
    """(language, tag, code) of each fenced block of a page."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [(language, tag.strip(), code) for language, tag, code in FENCE.findall(text)]


def commands(page: str, tag: str) -> list[str]:
    return [code for language, found, code in blocks(page) if language == "sh" and found == tag]


def test_every_sh_block_of_the_task_pages_is_run_or_checked_somewhere() -> None:
    tags = {tag for page in TASK_PAGES for language, tag, _ in blocks(page) if language == "sh"}
    assert tags <= {"", "podman", "docker", *ELSEWHERE}, tags
    assert all(commands(page, "") or commands(page, "podman") for page in TASK_PAGES[:-1])


def test_the_docker_commands_are_the_podman_commands() -> None:
    (podman,) = commands("gradescope.md", "podman")
    (docker,) = commands("gradescope.md", "docker")
    assert docker == podman.replace("podman", "docker")


def _export(root: Path) -> None:
    """Gradescope's export of a small class, zipped, and the course's extensions."""
    export = root / "assignment_export"
    (export / "submission_1").mkdir(parents=True)
    shutil.copy(CORPUS / "correct_colab.py", export / "submission_1" / "A2S1.py")
    (export / "submission_2").mkdir()
    for name in ("A2S1.ipynb", "A2S2.ipynb"):
        shutil.copy(REPO / "student_template" / name, export / "submission_2" / name)
    (export / "submission_metadata.yml").write_text(METADATA)
    with zipfile.ZipFile(root / "export.zip", "w") as archive:
        for path in sorted(export.rglob("*")):
            archive.write(path, path.relative_to(root))
    shutil.rmtree(export)
    (root / "extensions.csv").write_text("sid,email,due\n1912,,2024-02-11T23:59-08:00\n")


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A copy of the checkout (tracked and new files), reachable by the sandbox user, with the
    page's inputs beside it."""
    top = Path(tempfile.mkdtemp(prefix="a2-docs-", dir="/tmp"))
    top.chmod(0o755)
    copy = top / "repo"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    (copy / ".venv").symlink_to(REPO / ".venv")
    _export(copy)
    (top / "home").mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(top / "host")], check=True)
    shutil.copy(top / "host.pub", copy / "cluster_host_key.pub")
    yield copy
    shutil.rmtree(top, ignore_errors=True)


def run_page(copy: Path, page: str) -> str:
    """Runs the page's ```sh blocks in order; returns what they printed."""
    script = "set -euo pipefail\n" + "\n".join(commands(page, ""))
    env = {
        **os.environ,
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        "HOME": str(copy.parent / "home"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("A2_COURSE", None)
    finished = subprocess.run(
        ["bash", "-c", script], cwd=copy, env=env, capture_output=True, text=True, timeout=1500, check=False
    )
    assert finished.returncode == 0, f"{page}:\n{finished.stdout[-4000:]}\n{finished.stderr[-4000:]}"
    return finished.stdout


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_the_task_pages_commands_run_and_give_what_the_pages_promise(scratch: Path) -> None:
    outputs = {page: run_page(scratch, page) for page in TASK_PAGES}
    dist = scratch / "dist"
    # handout.md and students.md: a release per course; its checker runs on an exported notebook.
    for course in ("447", "517"):
        assert (dist / course / f"a2-release-{course}.zip").is_file()
    assert "against the public tests of CSE 447" in outputs["students.md"]
    assert " ok " in outputs["students.md"] and "FAILED" not in outputs["students.md"]
    # grading.md: the staff's summary first, naming the course.
    assert "\n== For the staff: CSE 517, profile 'offline'" in outputs["grading.md"]
    assert json.loads((scratch / "out" / "reference.json").read_text())["extra_data"]["course"] == "CSE 517"
    # gradescope.md: one zip per course, the CPU image's build settings in each.
    for course in ("447", "517"):
        with zipfile.ZipFile(dist / course / "autograder.zip") as archive:
            assert archive.read("COURSE").decode().strip() == course
            assert "A2_TORCH_CUDA=${A2_TORCH_CUDA:-cpu}" in archive.read("gradescope/build.env").decode()
    # regrade.md: statuses, course and lateness; the rerun grades nothing again.
    records = {row["name"]: row for row in _csv(scratch / "regrade-447" / "grades.csv")}
    assert {name: row["status"] for name, row in records.items()} == {
        "Ada Lovelace": "ok",
        "Alan Turing": "untouched template",
        "Grace Hopper": "untouched template",
    }
    assert {row["course"] for row in records.values()} == {"CSE 447"}
    assert records["Ada Lovelace"]["hours_late"] == "0" and records["Grace Hopper"]["hours_late"] == "32.02"
    assert records["Alan Turing"]["hours_late"] == "0", "his extension covers the group's late submission"
    assert "Keeping the grades of 2 submission(s)" in outputs["regrade.md"]
    # live-s3.md: the forward's folder, packed into the zip.
    with zipfile.ZipFile(dist / "447" / "autograder.zip") as archive:
        assert {"forward/forward.toml", "forward/id_ed25519", "forward/known_hosts"} <= set(
            archive.namelist()
        )
    assert 'command="cd /home/a2grader/a2grader/source && exec ' in outputs["live-s3.md"]


class Parsed(Exception):
    """Raised by the patched parser once a command line is parsed, before the command acts."""


def _parse_only(monkeypatch: pytest.MonkeyPatch) -> None:
    original = argparse.ArgumentParser.parse_args

    def parse(self, args=None, namespace=None):
        original(self, args, namespace)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse)


def _check_line(line: str, monkeypatch: pytest.MonkeyPatch, targets: set[str]) -> None:
    words = shlex.split(line)
    while words and "=" in words[0] and not words[0].startswith("-"):
        words = words[1:]  # VARIABLE=value prefixes
    if words[:1] == ["make"]:
        assert words[1] in targets, line
        return
    if "-m" not in words or not words[0].endswith("python"):
        return
    module, argv = words[words.index("-m") + 1], words[words.index("-m") + 2 :]
    if module == "grader" and argv[:1] and argv[0] in BUILDERS:
        # The verb passes every word to the builder it runs: that builder's parser checks them.
        module, argv = BUILDERS[argv[0]].module, argv[1:]
    monkeypatch.setattr("sys.argv", [module, *argv])
    with pytest.raises(Parsed):
        if module == "grader":
            from grader.cli import build_parser

            build_parser().parse_args(argv)
        else:
            runpy.run_module(module, run_name="__main__")


@pytest.mark.parametrize("page", TASK_PAGES)
def test_commands_for_another_machine_name_options_that_exist(page: str, monkeypatch) -> None:
    _parse_only(monkeypatch)
    targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), flags=re.MULTILINE))
    for tag in ELSEWHERE:
        for code in commands(page, tag):
            for line in code.splitlines():
                if line.strip() and not line.startswith("export "):
                    _check_line(line, monkeypatch, targets)


def test_the_settings_and_the_points_are_the_tables() -> None:
    text = (DOCS / "gradescope.md").read_text(encoding="utf-8")
    totals = {
        course: sum(row.max_score for row in load_table(course=course).tests) for course in ("447", "517")
    }
    assert f"**{totals['447']:g}** for CSE 447, **{totals['517']:g}** for CSE 517" in text
    table = load_table()
    hidden = [row for row in table.tests if row.visibility == "hidden"]
    assert (
        f"{len(hidden)} of the {len(table.tests)} tests ({sum(r.max_score for r in hidden):g} of the points)"
        in text
    )
    assert f"| 28 tests | {totals['447']:g} + 5 extra credit / {totals['517']:g} |" in text
    leaderboard = next(line for line in text.splitlines() if line.startswith("| leaderboard |"))
    assert "**off**" in leaderboard, "one advice on the leaderboard, everywhere"
