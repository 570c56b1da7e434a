"""Containment on every path: student code reads no secret, reaches no classmate, leaves nothing behind.

The hostile submissions in tests/submissions/hostile/containment/ are graded through `batch --jobs 2`
(which runs `grade` for each) and through run_autograder, each once with the namespaces and once
without them: the grader is started without CAP_SYS_ADMIN, as Docker (and so Gradescope) starts it,
which makes the launcher's unshare fail, so the fallback (permissions and the seccomp filter) is
what is tested. Either way every run must end with a valid results.json, the honest submission
graded as usual, no secret in any result, and no file (in any folder the uid could write), IPC object,
key or process of any sandbox uid the run used. The remaining tests grade single files in-process with
the small checks of tests/core_checks, or try one part of the cleanup or the seccomp filter alone.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from core_grading import CORE_CHECKS, core_table
from test_gradescope_autograder import autograder_root, autograder_zip  # noqa: F401 - fixtures

from a2.assets.offline import HELDOUT_SEED_FILE, offline_assets
from grader.errors import StudentTimedOut
from grader.grading_run import CONFINEMENT_KEY, RunOptions, grade_submission
from grader.results import validate
from grader.sandbox import identity as identity_module
from grader.sandbox.cleanup import (
    SHARED_TEMPORARY,
    clear_keyrings,
    has_keys,
    remove_files_of,
    remove_tree,
    world_writable_folders,
)
from grader.session import GradingSession
from grader.table import load_table

REPO = Path(__file__).resolve().parent.parent
HOSTILE = REPO / "tests" / "submissions" / "hostile" / "containment"
HONEST = REPO / "tests" / "submissions" / "a2s1" / "correct_colab.py"
CORRECT_FOR_CORE_CHECKS = (
    "import torch\n\nquery121 = torch.ones(3)\n\n\ndef answer():\n    return [42.0] * 3\n\n\n"
    "def other():\n    return 'fine'\n"
)
SECTION_ONE = [row.number for row in load_table().tests if row.section == 1]
LOAD_TIME_ATTACKS = (
    "reads_secrets",
    "leaves_things_behind",
    "reads_memory",
    "reads_classmates",
    "opens_network",
    "stores_in_keyrings",
    "writes_everywhere",
)
# Started like this, the grader lacks CAP_SYS_ADMIN: unshare fails as it does in Docker's default set.
WITHOUT_NAMESPACES = ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin"]
MODES = {"namespace": [], "fallback": WITHOUT_NAMESPACES}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop needs root (CI runs as root)")


def hostile_text(name: str, **values: object) -> str:
    """A hostile submission with its placeholders (`TARGETS = []`, `PORT = 0`) filled in."""
    text = (HOSTILE / f"{name}.py").read_text()
    for variable, value in values.items():
        placeholder = {"TARGETS": "TARGETS = []", "PORT": "PORT = 0"}[variable]
        assert placeholder in text
        text = text.replace(placeholder, f"{variable} = {value!r}", 1)
    return text


def installation_secrets() -> list[str]:
    """Paths no sandboxed child may read or list on this installation."""
    assets = offline_assets()
    return [
        str(path)
        for path in (
            REPO / "a2" / "checks" / "test_s2_hidden.py",
            REPO / "a2" / "sections" / "s2" / "oracle.py",
            REPO / "reference" / "A2S2.py",
            REPO / ".git",
            REPO / "dist",
            assets.split_file("test"),
            assets.root.parent / HELDOUT_SEED_FILE,
        )
    ]


def confinement_of(results: dict) -> dict[str, dict]:
    return results.get("extra_data", {}).get(CONFINEMENT_KEY, {})


def leftovers(uids: set[int]) -> list[str]:
    """Files in every folder a sandbox uid could write (the shared temporary ones and every world-writable
    one of the host, looked for afresh), System V IPC objects, keys and live processes belonging to
    `uids`."""
    found = []
    world_writable_folders.cache_clear()
    for folder in {*SHARED_TEMPORARY, *world_writable_folders()}:
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            if entry.stat(follow_symlinks=False).st_uid in uids:
                found.append(entry.path)
    for table, uid_column in (("shm", 7), ("msg", 7), ("sem", 4)):
        for row in Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:]:
            if int(row.split()[uid_column]) in uids:
                found.append(f"System V {table}: {row.split()[1]}")
    for uid in uids:
        found += [f"process {pid}" for pid in identity_module._pids_of(uid)]
        found += [f"keys of uid {uid}"] if keys_left(uid) else []
    return found


def keys_left(uid: int) -> int:
    """How many keys `uid` holds in its user, user-session and persistent keyrings (an emptied keyring
    itself stays: the kernel keeps a uid's user keyrings once made)."""
    if not has_keys(uid):
        return 0
    return sum(int(count) for count in as_uid(uid, COUNT_KEYS).split())


def sandbox_uids(log: Path) -> set[int]:
    """The uids a grading run gave its sections, from its instructor log."""
    return {int(uid) for uid in re.findall(r"sandbox identity uid (\d+)", log.read_text())}


def assert_contained(results: dict, mode: str, secrets: list[str]) -> None:
    """The run's confinement is the one `mode` expects, and nothing secret appears."""
    text = json.dumps(results)
    for secret in secrets:
        assert secret not in text
    reports = confinement_of(results)
    assert reports, "the launcher's confinement report must be in results.json's extra_data"
    for report in reports.values():
        assert report["user"] == "a dedicated unprivileged uid" and report["no_new_privs"]
        if mode == "namespace":
            assert report["filesystem"].startswith("private root"), report
            assert report["network"].startswith("own network namespace"), report
        else:
            assert report["filesystem"].startswith("permissions only"), report
            assert report["network"].startswith("seccomp filter"), report


@pytest.fixture
def listening_port():
    """A port the grader's machine listens on: a sandbox that can connect to it has network."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.mark.parametrize("mode", MODES)
def test_batch_grades_every_hostile_submission_and_nothing_leaks_or_stays(tmp_path, mode, listening_port):
    export, out = tmp_path / "export", tmp_path / "out"
    (export / "honest").mkdir(parents=True)
    shutil.copy(HONEST, export / "honest" / "A2S1.py")
    secrets = installation_secrets()
    classmate_files = [str(export / "honest" / "A2S1.py"), str(out / "grades.csv"), str(out / "submissions")]
    fills = {
        "reads_secrets": {"TARGETS": secrets + classmate_files},
        "opens_network": {"PORT": listening_port},
    }
    for name in LOAD_TIME_ATTACKS:
        (export / name).mkdir()
        (export / name / "A2S1.py").write_text(hostile_text(name, **fills.get(name, {})))
    shutil.copytree(HOSTILE / "symlinks", export / "symlinks", symlinks=True)
    command = [sys.executable, "-m", "grader", "batch", str(export), "--out", str(out), "--jobs", "2"]
    finished = subprocess.run(
        [*MODES[mode], *command, "--sections", "1"], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o700 and stat.S_IMODE(export.stat().st_mode) == 0o700
    uids: set[int] = set()
    shown = [Path(secrets[0]).read_text()[:200], (export / "honest" / "A2S1.py").read_text()[-120:]]
    for name in ("honest", *LOAD_TIME_ATTACKS, "symlinks"):
        results = json.loads((out / "submissions" / name / "results.json").read_text())
        validate(results)
        tests = {test["number"]: test for test in results["tests"]}
        if name == "symlinks":
            assert "A2S1.py is a symbolic link" in tests["1.2.1"]["output"]
            assert "A2S1.py is a symbolic link" in results["output"]
            assert not any(secret in json.dumps(results) for secret in shown)
            continue
        assert_contained(results, mode, shown)
        uids |= sandbox_uids(out / "submissions" / name / "grader.log")
        failed = {
            number: tests[number]["output"] for number in SECTION_ONE if tests[number]["status"] != "passed"
        }
        assert failed == {}, f"{name}: {failed}"
    assert len(uids) >= len(LOAD_TIME_ATTACKS) + 1, "each submission runs as its own uid"
    assert leftovers(uids) == []


@pytest.mark.parametrize("mode", MODES)
def test_run_autograder_hides_the_metadata_and_reports_the_confinement(autograder_root, mode):  # noqa: F811
    root = autograder_root
    targets = [
        str(root / "submission_metadata.json"),
        str(root / "results"),
        str(root / "source" / "a2" / "checks" / "test_s2_hidden.py"),
        str(root / "assets" / HELDOUT_SEED_FILE),
    ]
    (root / "submission" / "A2S1.py").write_text(hostile_text("reads_secrets", TARGETS=targets))
    env = {**os.environ, "A2_PYTHON": sys.executable, "A2_ASSETS_DIR": str(root / "assets")}
    env["HF_HOME"] = str(root / "hf-cache")
    command = [*MODES[mode], "bash", str(root / "source" / "run_autograder"), str(root)]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    validate(results)
    assert_contained(results, mode, ["Test Student", "student@example.edu"])
    uids = sandbox_uids(root / "results" / "grader.log")
    assert uids
    tests = {test["number"]: test for test in results["tests"]}
    failed = {n: tests[n]["output"] for n in SECTION_ONE if tests[n]["status"] != "passed"}
    assert failed == {}
    assert "section 1 confinement:" in finished.stdout, "run_autograder prints it for staff"
    assert leftovers(uids) == []


def grade_core(tmp_path: Path, source: str, **options) -> dict[str, dict]:
    submission = tmp_path / "submission"
    submission.mkdir(exist_ok=True)
    (submission / "A2S1.py").write_text(source)
    results = grade_submission(
        RunOptions(submission, tmp_path / "results.json", sections={1}, checks_dir=CORE_CHECKS, **options),
        core_table(),
    )
    validate(results)
    return {test["number"]: test for test in results["tests"]}


def test_a_function_that_timed_out_is_not_called_again(tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copy(HOSTILE / "spins_in_answer.py", submission / "A2S1.py")
    table = core_table()
    session = GradingSession(submission, table, table.profile("offline"), protect=())
    session.start()
    try:
        section = session.section(1)
        with pytest.raises(StudentTimedOut) as first:
            section.call("answer", timeout=1)
        with pytest.raises(StudentTimedOut) as again:
            section.call("answer", timeout=1)
        assert str(again.value) == str(first.value)
        with pytest.raises(StudentTimedOut) as in_driver:
            section.run("a2.sections.s2.drivers.gpt_training:train_and_probe", uses=("answer",))
        assert str(in_driver.value) == str(first.value)
        assert section.call("other") == "fine"
        assert section.starts == 2, "the second call must not start a process to spin again"
    finally:
        session.close()


def test_a_huge_answer_is_refused_by_its_size(tmp_path):
    tests = grade_core(tmp_path, (HOSTILE / "huge_answer.py").read_text())
    assert tests["1.2.2"]["status"] == "failed"
    assert "larger than the 64 MB the grader accepts" in tests["1.2.2"]["output"]
    assert tests["1.3.1"]["status"] == "passed"


def test_oversized_and_special_files_are_refused_by_name(tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    os.mkfifo(submission / "A2S1.py")
    with (submission / "A2S1 (1).py").open("w") as handle:
        handle.write("# padding\n" * (21 << 17))
    results = grade_submission(
        RunOptions(submission, tmp_path / "results.json", sections={1}, checks_dir=CORE_CHECKS), core_table()
    )
    validate(results)
    output = {test["number"]: test for test in results["tests"]}["1.2.1"]["output"]
    assert "A2S1.py is not a regular file" in output
    assert "A2S1 (1).py is larger than 20 MB" in output


def test_cleanup_removes_a_tree_deeper_than_recursion_allows_and_stops_at_its_bound(tmp_path):
    for top, bound in ((tmp_path / "deep", None), (tmp_path / "wide", 50)):
        top.mkdir()
        fd = os.open(top, os.O_RDONLY)
        for _ in range(3000 if bound is None else 1):
            os.mkdir("d", dir_fd=fd)
            deeper = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        for index in range(100 if bound else 0):
            os.close(os.open(f"f{index}", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
        os.close(fd)
        problems = remove_tree(top) if bound is None else remove_tree(top, max_entries=bound)
        if bound is None:
            assert problems == [] and not top.exists()
        else:
            assert any("more than 50 entries" in problem for problem in problems)


def test_uids_that_belong_to_an_account_are_never_used(monkeypatch):
    free = identity_module.UID_RANGE[-1]

    def account(uid: int):
        if uid != free:
            return object()
        raise KeyError(uid)

    monkeypatch.setattr(identity_module.pwd, "getpwuid", account)
    chosen = identity_module.choose_identity()
    try:
        assert chosen.uid == free
    finally:
        chosen.release()


def test_a_named_sandbox_user_never_ends_processes_it_did_not_start(tmp_path):
    bystander = subprocess.Popen(
        ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "sleep", "300"]
    )
    try:
        tests = grade_core(tmp_path, CORRECT_FOR_CORE_CHECKS, sandbox_user="nobody")
        assert tests["1.2.2"]["status"] == "passed"
        assert bystander.poll() is None, "the grader killed a process of the named user it did not start"
    finally:
        os.kill(bystander.pid, signal.SIGKILL)
        bystander.wait()


def test_batch_refuses_parallel_jobs_under_one_named_user(tmp_path):
    (tmp_path / "export" / "one").mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "grader",
        "batch",
        str(tmp_path / "export"),
        "--out",
        str(tmp_path / "out"),
    ]
    finished = subprocess.run(
        [*command, "--jobs", "2", "--sandbox-user", "nobody"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2
    assert "--sandbox-user auto" in finished.stdout


@pytest.mark.parametrize("mode", MODES)
def test_a_key_one_submission_stores_never_reaches_the_next_graded_as_the_same_user(tmp_path, mode):
    """The review's channel between classmates: with a named sandbox user, the first submission stores
    its answers in the kernel keyrings and the second, which computes nothing, reads them back."""
    export, out = tmp_path / "export", tmp_path / "out"
    for name in ("a_stores", "b_reads"):
        (export / name).mkdir(parents=True)
    shutil.copy(HOSTILE / "stores_in_keyrings.py", export / "a_stores" / "A2S1.py")
    shutil.copy(HOSTILE / "reads_keyrings.py", export / "b_reads" / "A2S1.py")
    command = [sys.executable, "-m", "grader", "batch", str(export), "--out", str(out), "--jobs", "1"]
    command += ["--sections", "1", "--sandbox-user", "nobody"]
    finished = subprocess.run([*MODES[mode], *command], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    stored = json.loads((out / "submissions" / "a_stores" / "results.json").read_text())
    assert {test["status"] for test in stored["tests"]} == {"passed"}
    reader = json.loads((out / "submissions" / "b_reads" / "results.json").read_text())
    tests = {test["number"]: test for test in reader["tests"]}
    assert tests["1.2.1"]["status"] == tests["1.2.2"]["status"] == "failed", "the answers were read back"
    for report in confinement_of(reader).values():
        assert report["keyrings"] == "seccomp filter: refused", report
    assert leftovers({pwd.getpwnam("nobody").pw_uid}) == []


def free_uid() -> int:
    uid = identity_module.UID_RANGE[-2]
    assert identity_module._unused(uid)
    return uid


def as_uid(uid: int, code: str) -> str:
    """What Python `code` prints, run as `uid` (no groups), outside any sandbox."""
    who = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    command = ["setpriv", *who, sys.executable, "-I", "-c", code]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout


# keyctl(2) on x86-64: 248 is add_key, 250 keyctl; 22 KEYCTL_GET_PERSISTENT, 11 KEYCTL_READ; -4 is @u,
# -5 @us, -2 the process's own keyring (which holds the persistent keyring only while the process lives).
KEYRINGS = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long
persistent = libc.syscall(L(250), L(22), L(-1), L(-2))
"""
STORE_KEYS = (
    KEYRINGS
    + """
for ring in (-4, persistent):
    assert libc.syscall(L(248), b"user", b"left", b"data", L(4), L(ring)) > 0
"""
)
COUNT_KEYS = (
    KEYRINGS
    + """
for ring in (-4, -5, persistent):
    print(libc.syscall(L(250), L(11), L(ring), None, L(0)) // 4)  # 4 bytes a key
"""
)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the keyring calls are written for x86-64")
def test_cleanup_clears_the_keys_a_uid_left_in_its_keyrings():
    uid = free_uid()
    as_uid(uid, STORE_KEYS)
    assert has_keys(uid)
    assert keys_left(uid) == 2
    assert clear_keyrings(uid) == []
    assert keys_left(uid) == 0


@pytest.mark.parametrize("without_namespaces", [False, True])
def test_the_child_s_filter_refuses_keyrings_always_and_sockets_without_namespaces(without_namespaces):
    code = f"""
import ctypes, errno, os, socket
from grader.sandbox import seccomp
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
seccomp.install_filter({without_namespaces})
L = ctypes.c_long
number = seccomp.ARCHITECTURES[os.uname().machine].keyrings[0]
print(libc.syscall(L(number), b"user", b"k", b"v", L(1), L(-4)), ctypes.get_errno())
for family in (socket.AF_INET, socket.AF_UNIX):
    try:
        socket.socket(family, socket.SOCK_STREAM).close()
        print("open")
    except PermissionError:
        print("refused")
"""
    lines = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split("\n")
    assert lines[0] == f"-1 {errno.EACCES}"
    assert lines[1:3] == (["refused", "open"] if without_namespaces else ["open", "open"])


def test_cleanup_sweeps_run_lock_and_what_a_named_user_changed_in_its_home(tmp_path, monkeypatch):
    uid = free_uid()
    home = tmp_path / "home"
    (home / "kept" / "deep").mkdir(parents=True)
    (home / "older").write_text("before the run")
    (home / "kept" / "deep" / "older").write_text("before the run")
    for path in (
        home,
        home / "kept",
        home / "kept" / "deep",
        home / "older",
        home / "kept" / "deep" / "older",
    ):
        os.chown(path, uid, uid)
    time.sleep(0.05)
    since = time.time_ns()
    time.sleep(0.05)
    (home / "made" / "inner").mkdir(parents=True)
    made = [home / "new", home / "kept" / "deep" / "new", Path("/run/lock") / f"a2-test-{os.getpid()}"]
    made.append(home / "made" / "inner" / "file")
    for path in made:
        path.write_text("left by the run")
    for path in [*made, home / "made", home / "made" / "inner"]:
        os.chown(path, uid, uid)
    assert "/run/lock" in world_writable_folders()

    class Account:
        pw_dir, pw_gid = str(home), uid

    monkeypatch.setattr("grader.sandbox.cleanup.pwd.getpwuid", lambda number: Account)
    from grader.sandbox.cleanup import writable_folders

    assert remove_files_of(uid, since, writable_folders(uid)) == []
    assert not any(path.exists() for path in [*made, home / "made"])
    assert (home / "older").read_text() == (home / "kept" / "deep" / "older").read_text() == "before the run"
