"""The handout builder: markers, a fresh and deterministic template, no leaked solution, runnable TODOs."""

import ast
import filecmp
import re
import shutil
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from handout import table_reference
from handout.__main__ import main
from handout.allowlist_text import DOCS_PAGE, PLACEHOLDER
from handout.build import NOTEBOOKS, build, read_source
from handout.execute import execute_until_error
from handout.markers import MarkerError, solution_lines, strip_solutions

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "student_template"
SECTION_2_1_TODOS = (
    "self_attention",
    "pairwise_similarities",
    "attn_scaled",
    "attn_softmax",
    "compute_outputs",
    "make_causal_mask",
    "apply_causal_mask",
    "split_heads",
    "merge_heads",
)

SOURCE = """x = 1
def f(a):
    # BEGIN SOLUTION add one to a
    y = a + 1
    return y
    # END SOLUTION
answer = 3 * x  # SOLUTION three times x
"""


def test_block_and_line_markers_become_todos():
    assert strip_solutions(SOURCE, "s.py") == (
        "x = 1\n"
        "def f(a):\n"
        "    # TODO: add one to a\n"
        "    raise NotImplementedError\n"
        "answer = ...  # TODO: three times x\n"
    )


def test_markers_without_a_prompt_get_a_default_one():
    student = strip_solutions("# BEGIN SOLUTION\nz = 2\n# END SOLUTION\nw = z  # SOLUTION\n", "s.py")
    assert student.splitlines() == [
        "# TODO: write your code here.",
        "raise NotImplementedError",
        "w = ...  # TODO: replace ... with your answer.",
    ]


def test_solution_lines_lists_every_line_a_student_must_not_see():
    found = [(line.line, line.code) for line in solution_lines(SOURCE, "s.py")]
    assert found == [(4, "y = a + 1"), (5, "return y"), (7, "answer = 3 * x")]


@pytest.mark.parametrize(
    ("source", "where", "message"),
    [
        ("a = 1\n# BEGIN SOLUTION\nb = 2\n", "s.py:2:", "never closed"),
        ("a = 1\n# END SOLUTION\n", "s.py:2:", "without a matching"),
        (
            "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n",
            "s.py:2:",
            "inside the block opened on line 1",
        ),
        ("x = 1\nprint(x)  # SOLUTION\n", "s.py:2:", "target = expression"),
        ("# BEGIN SOLUTION\nx = 1  # SOLUTION\n# END SOLUTION\n", "s.py:2:", "inside a solution block"),
    ],
)
def test_malformed_markers_are_reported_with_file_and_line(source, where, message):
    with pytest.raises(MarkerError) as raised:
        strip_solutions(source, "s.py")
    assert str(raised.value).startswith(where) and message in str(raised.value)


def copy_sources(root: Path) -> Path:
    """A repository copy holding only what the build reads."""
    shutil.copytree(ROOT / "reference", root / "reference")
    shutil.copytree(ROOT / "tinygpt", root / "tinygpt", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_malformed_marker_stops_the_build_before_anything_is_written(tmp_path, capsys):
    root = copy_sources(tmp_path / "repo")
    source = root / "reference" / "A2S1.py"
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    source.write_text("".join(lines[:5] + ["# END SOLUTION\n"] + lines[5:]), encoding="utf-8")
    assert main(["--root", str(root)]) == 1
    error = capsys.readouterr().err
    assert "reference/A2S1.py:6: # END SOLUTION without a matching # BEGIN SOLUTION" in error
    assert not (root / "student_template").exists() and not (root / "dist").exists()


def test_a_missing_reference_file_stops_the_build_with_its_name(tmp_path, capsys):
    root = copy_sources(tmp_path / "repo")
    (root / "reference" / "A2S1.py").unlink()
    assert main(["--root", str(root)]) == 1
    assert "reference/A2S1.py is missing" in capsys.readouterr().err


def tree_files(folder: Path) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory):
    """The handout built from the current sources into a temporary folder."""
    out = tmp_path_factory.mktemp("fresh")
    build(ROOT, out / "student_template", out / "dist", out / "docs")
    return out


def test_student_template_is_fresh(fresh_build):
    fresh = fresh_build / "student_template"
    assert tree_files(TEMPLATE) == tree_files(fresh), "run `make handout` and commit student_template/"
    stale = [
        name for name in sorted(tree_files(fresh)) if not filecmp.cmp(fresh / name, TEMPLATE / name, False)
    ]
    assert not stale, f"student_template/ is out of date ({stale}): run `make handout`"


def test_the_docs_page_of_the_allowlist_is_fresh(fresh_build):
    assert (fresh_build / "docs" / DOCS_PAGE).read_text() == (ROOT / "docs" / DOCS_PAGE).read_text(), (
        "run `make handout` and commit docs/"
    )


def test_the_docs_page_of_the_table_is_fresh(fresh_build):
    page = table_reference.TABLE_PAGE
    assert (fresh_build / "docs" / page).read_text() == (ROOT / "docs" / page).read_text(), (
        "run `make handout` and commit docs/ (the table's reference comes from grader/table.py)"
    )


def test_the_students_notebook_prints_the_allowlist(fresh_build):
    notebook = (fresh_build / "student_template" / "A2S2.ipynb").read_text()
    assert PLACEHOLDER not in notebook
    assert all(f"`{name}`" in notebook for name in ("einsum", "masked_fill", "rearrange", "finfo"))


def test_the_checker_ships_only_in_a_course_release(fresh_build):
    assert not (fresh_build / "dist" / "check.py").exists(), "a checker names its course: make release"
    assert not (fresh_build / "student_template" / "check.py").exists()
    assert not (TEMPLATE / "check.py").exists()


def test_building_twice_changes_no_byte(fresh_build, tmp_path):
    build(ROOT, tmp_path / "student_template", tmp_path / "dist")
    for folder in ("student_template", "dist"):
        names = tree_files(fresh_build / folder)
        assert names == tree_files(tmp_path / folder)
        assert all(
            (fresh_build / folder / name).read_bytes() == (tmp_path / folder / name).read_bytes()
            for name in names
        )


def code_of(line: str) -> str:
    """A line without indentation and trailing comment, so a line marker's comment hides nothing."""
    return re.sub(r"\s+#.*$", "", line).strip()


def line_counts(text: str) -> Counter:
    return Counter(code_of(line) for line in text.splitlines())


def student_file_text(path: Path) -> str:
    """A student file's text; for a notebook, the sources of its cells."""
    if path.suffix == ".ipynb":
        return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    return path.read_text(encoding="utf-8")


def given_line_counts(text: str, relative: str) -> Counter:
    """How often each line occurs in a source outside its solution markers (code students are given)."""
    inside = {solution.line for solution in solution_lines(text, relative)}
    kept = [line for number, line in enumerate(text.splitlines(), start=1) if number not in inside]
    return line_counts("\n".join(kept))


def test_no_solution_line_reaches_a_student_file(fresh_build):
    """A solution line may appear in a student file only as often as the given code has it.

    Generic lines (``model.train()``, ``loss.backward()``) can be both solution and given code;
    what must never happen is a student file holding a solution line more often than the code it
    is made from. A notebook is made from its source outside the markers; a tinygpt module from
    the original module; any other file (the checker bundle) from nothing in reference/.
    """
    sources = {name: read_source(ROOT, name) for name in NOTEBOOKS}
    solutions = [s for text, relative in sources.values() for s in solution_lines(text, relative)]
    distinctive = [code_of(s.code) for s in solutions if re.search(r"[A-Za-z_]", s.code)]
    student_dir = fresh_build / "student_template"
    leaks = []
    for name in sorted(tree_files(student_dir)):
        counts = line_counts(student_file_text(student_dir / name))
        if name.endswith(".ipynb"):
            allowed = given_line_counts(*sources[name.removesuffix(".ipynb")])
        elif (ROOT / name).is_file():
            allowed = line_counts((ROOT / name).read_text(encoding="utf-8"))
        else:
            allowed = Counter()
        leaks += [f"{code!r} in {name}" for code in distinctive if counts[code] > allowed[code]]
    assert not leaks, leaks


def test_tinygpt_holds_no_attention_solution():
    text, relative = read_source(ROOT, "A2S2")
    package = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "tinygpt").glob("*.py"))
    package_lines = line_counts(package)
    assert [s.code for s in solution_lines(text, relative) if package_lines[code_of(s.code)]] == []


def test_student_notebooks_are_clean_nbformat_v4_and_say_they_are_generated(fresh_build):
    for name in NOTEBOOKS:
        notebook = nbformat.read(fresh_build / "student_template" / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        assert notebook.nbformat == 4 and notebook.metadata.kernelspec.name == "python3"
        banner = notebook.cells[0].source
        assert "generated for the course's release" in banner and "Instructors" not in banner
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
        assert any("TODO" in cell.source for cell in code)


def test_every_section_2_1_function_is_a_todo_for_students(fresh_build):
    notebook = nbformat.read(fresh_build / "student_template" / "A2S2.ipynb", as_version=4)
    source = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith(("%", "!"))))
    bodies = {node.name: node.body for node in tree.body if isinstance(node, ast.FunctionDef)}
    for function in SECTION_2_1_TODOS:
        assert isinstance(bodies[function][-1], ast.Raise), f"{function} still has its solution"
    assert "# TODO:" in source


def test_reference_submissions_look_like_colab_exports(fresh_build):
    for name in NOTEBOOKS:
        text = (fresh_build / "dist" / "reference_submission" / f"{name}.py").read_text(encoding="utf-8")
        assert text.startswith(
            f'# -*- coding: utf-8 -*-\n"""{name}.ipynb\n\nAutomatically generated by Colab.'
        )
    a2s2 = (fresh_build / "dist" / "reference_submission" / "A2S2.py").read_text(encoding="utf-8")
    assert "\n%matplotlib inline\n" in a2s2 and "return A @ V" in a2s2


def test_student_tinygpt_is_a_marked_copy_of_the_package(fresh_build):
    copy = fresh_build / "student_template" / "tinygpt"
    sources = sorted(path.name for path in (ROOT / "tinygpt").glob("*.py"))
    assert sorted(path.name for path in copy.glob("*.py")) == sources
    for name in sources:
        header, _, body = (copy / name).read_text(encoding="utf-8").partition("\n")
        assert header.startswith("# Generated for the course's release")
        assert body == (ROOT / "tinygpt" / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_notebook_runs_until_its_first_todo(fresh_build, tmp_path, offline_notebook_env, name):
    notebook = nbformat.read(fresh_build / "student_template" / f"{name}.ipynb", as_version=4)
    first_todo = next(
        i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and "TODO" in cell.source
    )
    failure = execute_until_error(notebook, cwd=tmp_path, env=offline_notebook_env)
    assert failure is not None, "a student notebook with TODOs ran to the end"
    assert failure.ename == "NotImplementedError", f"cell {failure.index}: {failure.ename}: {failure.evalue}"
    assert failure.index >= first_todo
