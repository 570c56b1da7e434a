"""docs/writing-checks.md cannot drift: its code blocks are parsed, checked against the code, and run.

The walk-throughs' edits are applied to a copy of the repository and graded end to end by
tests/test_adding_a_question.py; here every block is checked quickly.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import re
import shlex
import shutil
from pathlib import Path

import pytest
from core_grading import write_checks
from corpus_grading import handout_exports

import grader.errors
from a2.records import A2Profile
from grader.grading_run import RunOptions, grade_submission
from grader.plugin import GradingPlugin
from grader.student_section import StudentSection
from grader.table import TABLE_PATH, load_table

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "writing-checks.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclasses.dataclass(frozen=True)
class Block:
    language: str
    tag: str
    code: str


def blocks() -> list[Block]:
    return [
        Block(lang, tag.strip(), code) for lang, tag, code in FENCE.findall(DOC.read_text(encoding="utf-8"))
    ]


def tagged(tag: str) -> Block:
    return next(block for block in blocks() if block.tag == tag)


@dataclasses.dataclass(frozen=True)
class Edit:
    """One edit of a walk-through: the question it adds, the file, the code, and where it goes (appended,
    or inserted before the cell holding the line ``before``)."""

    question: str
    path: str
    code: str
    before: str | None = None


def walk_through_edits() -> list[Edit]:
    """Every edit of the walk-throughs, in the page's order (blocks tagged ``question=N file=PATH``)."""
    edits = []
    for block in blocks():
        if "file=" in block.tag:
            fields = dict(part.split("=", 1) for part in shlex.split(block.tag))
            edits.append(Edit(fields["question"], fields["file"], block.code, fields.get("before")))
    return edits


def apply_edit(root: Path, edit: Edit) -> None:
    """Make ``edit`` to the file under ``root``, as the page says it is made."""
    path = root / edit.path
    text = path.read_text(encoding="utf-8")
    if edit.before is None:
        path.write_text(text + "\n\n" + edit.code, encoding="utf-8")
        return
    lines = text.splitlines(keepends=True)
    at = lines.index(edit.before + "\n")
    while not lines[at].startswith("# %%"):
        at -= 1
    path.write_text("".join(lines[:at]) + edit.code + "\n\n" + "".join(lines[at:]), encoding="utf-8")


#: The files each walk-through says it touches.
WALK_THROUGH_FILES = {
    "1.3.3": {"reference/A2S1.py", "a2/assignment.toml", "a2/checks/test_s1_public.py"},
    "2.1.16": {"reference/A2S2.py", "a2/assignment.toml", "a2/checks/test_s2_hidden.py"},
    "3.1.4": {
        "reference/A2S3.py",
        "a2/assignment.toml",
        "a2/sections/s3/drivers/probes.py",
        "a2/checks/test_s3_hidden.py",
    },
}


def test_each_walk_through_edits_the_files_it_names() -> None:
    touched: dict[str, set[str]] = {}
    for edit in walk_through_edits():
        touched.setdefault(edit.question, set()).add(edit.path)
    assert touched == WALK_THROUGH_FILES


def test_the_table_rows_of_the_walk_throughs_are_valid_rows(tmp_path: Path) -> None:
    shutil.copytree(TABLE_PATH.parent / "courses", tmp_path / "courses")
    table_copy = tmp_path / "assignment.toml"
    rows = [edit.code for edit in walk_through_edits() if edit.path == "a2/assignment.toml"]
    table_copy.write_text("\n".join([TABLE_PATH.read_text(), *rows]))
    table = load_table(table_copy)
    assert table.test("1.3.3").answers == ("query133",)
    assert "query133" in table.answers(1)
    assert "attention_entropy" in table.answers(2)
    assert table.test("3.1.4").section == 3 and "SST2Dataset" in table.answers(3)


def test_an_insertion_lands_before_the_cell_that_holds_its_line(tmp_path: Path) -> None:
    source = tmp_path / "notebook.py"
    source.write_text("# %%\nx = 1\n\n# %% [markdown]\n# ## Next\n#\n# text\n")
    apply_edit(tmp_path, Edit("9.9.9", "notebook.py", "# %%\ny = 2\n", before="# ## Next"))
    assert source.read_text() == "# %%\nx = 1\n\n# %%\ny = 2\n\n\n# %% [markdown]\n# ## Next\n#\n# text\n"


def names_used(code: str) -> set[str]:
    """Names a snippet reads that it does not bind itself (parameters and lambda arguments included)."""
    tree = ast.parse(code)
    bound = {
        arg.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.arguments)
        for arg in node.args + node.kwonlyargs
    }
    bound |= {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    bound |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    return {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    } - bound


def names_bound(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    names |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    return names | {(alias.asname or alias.name).split(".")[0] for node in imports for alias in node.names}


@pytest.mark.parametrize(
    "edit", [edit for edit in walk_through_edits() if edit.path.endswith(".py")], ids=lambda edit: edit.path
)
def test_the_python_edits_use_only_what_their_file_defines(edit: Edit) -> None:
    missing = names_used(edit.code) - names_bound(REPO / edit.path) - set(dir(builtins))
    assert not missing


def test_the_example_check_runs_and_passes_the_reference(tmp_path: Path) -> None:
    checks = write_checks(tmp_path / "checks", "example", tagged("check").code).parent
    reference = next(s for s in handout_exports("A2S2", 2) if s.name == "reference_colab_export")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "A2S2.py").write_text(reference.text)
    results = grade_submission(
        RunOptions(submission, tmp_path / "results.json", tests={"2.1.1"}, checks_dir=checks)
    )
    (test,) = results["tests"]
    assert test["number"] == "2.1.1" and test["status"] == "passed", test


def test_the_api_block_names_what_exists() -> None:
    code = tagged("api").code
    methods = set(re.findall(r"\ba2s\d\.(\w+)", code))
    assert methods and all(hasattr(StudentSection, m) or m in ("sliced", "filename") for m in methods), (
        methods
    )
    assert {"sliced", "filename"} <= set(StudentSection.__init__.__code__.co_names)
    drivers = re.findall(r'"(a2\.sections\.s\d\.drivers\.\w+):(\w+)"', DOC.read_text())
    assert drivers
    for module, function in drivers:
        assert hasattr(importlib.import_module(module), function), f"{module}:{function}"
    calls = [
        node
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("get", "call", "call_detailed", "run")
    ]
    assert {call.func.attr for call in calls} == {"get", "call", "call_detailed", "run"}
    for call in calls:
        # Each example's arguments fit the method's signature: its positional ones and its options.
        signature = inspect.signature(getattr(StudentSection, call.func.attr))
        signature.bind(None, *call.args, **{keyword.arg: keyword.value for keyword in call.keywords})


def test_the_fixtures_and_errors_named_exist() -> None:
    text = DOC.read_text()
    table_rows = re.findall(r"^\| `([^|]+)` \|", text, flags=re.MULTILINE)
    fixtures = {name.strip("`") for row in table_rows for name in row.split("`, `")}
    sections = {section.fixture for section in load_table().sections.values()}
    assert fixtures - sections and all(hasattr(GradingPlugin, name) for name in fixtures - sections)
    assert sections <= fixtures
    fields = {field.name for field in dataclasses.fields(A2Profile)}
    assert set(re.findall(r"`\.(\w+)`", text)) <= fields | {"devices", "recording"}
    errors = re.findall(r"`([A-Z]\w+)`", text.split("Failures raised by")[1].split("(all in")[0])
    assert errors and all(isinstance(getattr(grader.errors, name), type) for name in errors)


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a module, or a name defined in one (``grader.comparison.within``)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_every_path_and_module_the_page_names_exists() -> None:
    text = DOC.read_text()
    paths = set(re.findall(r"`((?:grader|handout|tests|reference)/[\w/.*-]*)`", text))
    modules = set(re.findall(r"`(grader(?:\.\w+)+)`", text))
    assert paths and modules
    # `sN` and `a2sN` stand for any section.
    missing = [path for path in sorted(paths) if not any(REPO.glob(path.rstrip("/").replace("sN", "s[0-9]")))]
    assert missing == []
    assert [module for module in sorted(modules) if not _resolves(module)] == []
