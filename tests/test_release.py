"""The release a course hands to students (`make release COURSE=…`): exactly the notebooks, tinygpt/,
that course's checker and a README for students; nothing for staff, the same bytes on every build."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from pathlib import Path

import pytest

from grader.packaged_course import COURSE_FILE
from grader.table import load_table
from handout.build import NOTEBOOKS
from handout.release import TOP_FOLDER, ReleaseError, build_release, release_entries

REPO = Path(__file__).resolve().parent.parent
# Words that address the staff or name the grader's workings; a student never needs them.
STAFF_WORDS = re.compile(
    r"Instructors|make handout|edit that source|reference/A2S|the course's tests|profile"
)


def _release(tmp_path: Path, course: str) -> dict[str, bytes]:
    with zipfile.ZipFile(build_release(course, tmp_path)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("course", ["447", "517"])
def test_the_release_holds_the_notebooks_tinygpt_the_courses_checker_and_a_readme(
    tmp_path: Path, course: str
) -> None:
    files = _release(tmp_path, course)
    tinygpt = sorted(f"{TOP_FOLDER}/tinygpt/{path.name}" for path in (REPO / "tinygpt").glob("*.py"))
    expected = [f"{TOP_FOLDER}/{name}.ipynb" for name in NOTEBOOKS] + tinygpt
    expected += [f"{TOP_FOLDER}/check.py", f"{TOP_FOLDER}/README.md"]
    assert sorted(files) == sorted(expected)
    check = files[f"{TOP_FOLDER}/check.py"].decode()
    encoded = re.search(r'BUNDLE = """\n(.*?)"""', check, re.DOTALL).group(1).replace("\n", "")
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(encoded))) as bundle:
        assert bundle.read(COURSE_FILE).decode().strip() == course, "the checker grades for its course"
    readme = files[f"{TOP_FOLDER}/README.md"].decode()
    table = load_table(course=course)
    hidden = [row for row in table.tests if row.visibility == "hidden"]
    assert readme.startswith(f"# Assignment 2: Attention and Transformers ({table.assignment.course})")
    assert f"{len(hidden)} hidden tests worth {sum(row.max_score for row in hidden):g} points" in readme
    assert "not on SST-2" in readme and "check.check_this_notebook" in readme


def test_nothing_in_the_release_speaks_to_the_staff(tmp_path: Path) -> None:
    files = _release(tmp_path, "447")
    said = {
        name: STAFF_WORDS.findall(text.decode())
        for name, text in files.items()
        if not name.endswith("check.py")  # the bundle's grader modules are code, not text for students
    }
    assert {name: words for name, words in said.items() if words} == {}


def test_the_release_is_reproducible_and_needs_the_handout(tmp_path: Path) -> None:
    assert (
        build_release("447", tmp_path / "a").read_bytes() == build_release("447", tmp_path / "b").read_bytes()
    )
    with pytest.raises(ReleaseError, match="run `make handout` first"):
        release_entries("447", tmp_path)
    with pytest.raises(ReleaseError, match="no course '999'"):
        release_entries("999")
