"""The warm template (grader/sandbox/fork_server.py): a student process forked from it holds nothing of
the grader's or of the template's, starts as a freshly started one would, and the template ends with
its grading run. The isolation itself is tested where it always was (test_sandbox.py,
test_containment.py, test_host_permissions.py, test_hostile_verdicts.py), now through the template.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import types
from pathlib import Path, PurePosixPath

import pytest
from core_grading import core_table

from grader.sandbox.fork_server import Fresh
from grader.sandbox.process import child_environment
from grader.sandbox.protocol import STUDENTS_LIBRARIES_VARIABLE
from grader.session import GradingSession

PROBES = '''import os
import tempfile

import torch

query121 = torch.rand(3)


def drawn_at_start():
    return query121


def descriptors():
    """Where each open descriptor leads (checked with fstat, so none is opened to look)."""
    found = {}
    for fd in range(256):
        try:
            os.fstat(fd)
        except OSError:
            continue
        found[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return found


def where():
    import huggingface_hub.constants

    return [os.environ["HOME"], huggingface_hub.constants.HF_HOME, tempfile.gettempdir()]


def environment():
    return sorted(os.environ)
'''


def started_session(folder: Path) -> GradingSession:
    submission = folder / "submission"
    submission.mkdir()
    (submission / "A2S1.py").write_text(PROBES)
    # The probes are answers of this table: the grader runs only what the answers it reads reach.
    table = core_table("drawn_at_start", "descriptors", "where", "environment")
    graded = GradingSession(submission, table, table.profile("offline"), protect=())
    graded.start()
    return graded


@pytest.fixture
def session(tmp_path: Path):
    graded = started_session(tmp_path)
    yield graded
    graded.close()


def templates_of(session: GradingSession) -> list[int]:
    """Processes whose command line names this run's staged code: its template and the watchers."""
    assert session.stage is not None
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(session.stage.code) in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_the_student_process_holds_no_descriptor_of_the_grader_or_the_template(session, monkeypatch):
    monkeypatch.setenv("A2_GRADER_ONLY", "a secret of the grader")
    seen = session.section(1).call("descriptors")
    kinds = {fd: target.split(":")[0] for fd, target in seen.items()}
    assert set(kinds.values()) <= {"pipe", "/dev/null"}, seen
    assert kinds["0"] == "/dev/null"
    assert "A2_GRADER_ONLY" not in session.section(1).call("environment")


def test_what_imports_derived_from_the_environment_is_the_student_processes_own(tmp_path):
    home, scratch = str(tmp_path / "template-home"), str(tmp_path / "work")
    module = types.ModuleType("derived_from_home")
    module.CACHE = f"{home}/.cache/huggingface"  # type: ignore[attr-defined]
    module.PATH = PurePosixPath(home) / "tmp"  # type: ignore[attr-defined]
    module.OTHER = "/usr/share"  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        fresh = Fresh(home)
        fresh.scan()
        fresh.restore(scratch)
    finally:
        del sys.modules[module.__name__]
    assert module.CACHE == f"{scratch}/.cache/huggingface"
    assert module.PATH == PurePosixPath(scratch) / "tmp"
    assert module.OTHER == "/usr/share"


def test_a_forked_student_process_starts_where_a_fresh_interpreter_does(session):
    home, hf_home, temporary = session.section(1).call("where")
    assert hf_home == str(Path(home) / ".cache" / "huggingface")
    assert temporary == str(Path(home) / "tmp")
    course = {STUDENTS_LIBRARIES_VARIABLE: session.table.assignment.students_transformers}
    expected = child_environment(Path(home), {"CUDA_VISIBLE_DEVICES": ""} | course)
    assert session.section(1).call("environment") == sorted(expected)
    first = session.section(1).call("drawn_at_start")
    session.section(1).close()
    again = session.section(1).call("drawn_at_start")
    assert first.tolist() != again.tolist(), "each process seeds torch afresh, as a started one does"


def test_the_template_ends_with_its_run_and_a_killed_one_is_replaced(tmp_path):
    session = started_session(tmp_path)
    try:
        assert session.section(1).call("descriptors")
        (template,) = [pid for pid in templates_of(session) if _is_template(pid)]
        os.kill(template, signal.SIGKILL)
        session.section(1).close()
        assert session.section(1).call("descriptors"), "a new template forks the next student process"
        assert template not in templates_of(session)
    finally:
        session.close()
    deadline = time.monotonic() + 10
    while templates_of(session) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert templates_of(session) == [], "the run's template or a watcher outlived it"


def _is_template(pid: int) -> bool:
    """The template is the one whose parent is this process (watchers are the template's children)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
