"""The live §3 forward: sshd on the loopback address (its own port, host key and config) whose key may
run only grader.cluster.forced, which grades 3.5.1 through a one-node Slurm started here.

Forwarded, the cluster's 3.5.1 replaces the CPU stand-in's, rebuilt from the reply's validated
fields (the leaderboard from the accuracy alone); broken (nobody listening, a wrong host key, a late
reply, a malformed reply, another file than the one graded) the CPU result stays and says it is
provisional; with no forward and no announced regrade it promises nothing. The forced command
refuses anything but an A2S3 file, refuses to grade on an account that cannot confine the student's
code, and a notebook that tries to forge its results or read the configuration gains nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from a2.sections.s3.resources import SST2
from grader.cluster import forward, localslurm
from grader.cluster.forced import NOT_CONFINED, confinement_problem
from grader.cluster.forward import (
    FORWARDED_NOTE,
    PROVISIONAL_NOTE,
    Forward,
    ForwardConfigError,
    ForwardStart,
    finish_forward,
    load_config,
    settle,
    ssh_command,
    start_forward,
)
from grader.cluster.forward_keys import authorized_keys_line, make_forward
from grader.cluster.localslurm import free_ports
from grader.results import CheckOutcome, build_results, write_results
from grader.table import TABLE_PATH, load_table
from gradescope.package import zip_entries

REPO = Path(__file__).resolve().parent.parent
A2S3 = REPO / "tests" / "submissions" / "a2s3" / "correct_colab.py"
FORGER = REPO / "tests" / "submissions" / "hostile" / "forward" / "forges_the_forward.py"
# In the cluster's forced.toml: the notebook that forges the forward must never get it back.
SECRET = "secret-5f3a9c"
ACCOUNT = "a2forwardtest"


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="module")
def forward_dir(tmp_path_factory: pytest.TempPathFactory):
    """The image's forward folder (key, known_hosts, forward.toml) pointing at a running sshd."""
    try:
        controller, node, ssh_port = free_ports(3)
        folder = tmp_path_factory.mktemp("slurm")
        cluster = localslurm.start(folder, controller_port=controller, node_port=node, install=True)
    except localslurm.PackagesMissing as error:
        pytest.skip(f"no local Slurm: {error}")
    try:
        localslurm.ensure_packages(("openssh-server",), ("/usr/sbin/sshd",), install=True)
    except localslurm.PackagesMissing as error:
        pytest.skip(str(error))
    server = tmp_path_factory.mktemp("sshd")
    _keygen(server / "host_key")
    # The image's folder, made as the docs make it (grader.cluster.forward_keys), host key pinned.
    image = tmp_path_factory.mktemp("image") / "forward"
    client_key = make_forward(image, "127.0.0.1", "root", ssh_port, 900, server / "host_key.pub")
    forced_config = server / "forced.toml"
    forced_config.write_text(
        f'# {SECRET}\nprofile = "offline"\nslurm_conf = "{cluster.conf}"\n'
        f'work_dir = "{_work(tmp_path_factory)}"\ntimeout = 900\nmax_bytes = 200000\n'
    )
    forced_config.chmod(0o600)
    line = authorized_keys_line(client_key, sys.executable, str(REPO), str(forced_config))
    (server / "keys_root").write_text(line + "\n")
    account = _account(client_key, cluster.conf)
    (server / "sshd_config").write_text(
        "\n".join(
            [
                f"Port {ssh_port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {server / 'host_key'}",
                f"AuthorizedKeysFile {server}/keys_%u" + (f" {account}/keys_%u" if account else ""),
                f"PidFile {server / 'sshd.pid'}",
                "PermitRootLogin forced-commands-only",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    subprocess.run(
        ["/usr/sbin/sshd", "-f", str(server / "sshd_config"), "-E", str(server / "sshd.log")], check=True
    )
    _wait_for_port(ssh_port)
    yield image
    os.kill(int((server / "sshd.pid").read_text()), signal.SIGTERM)
    localslurm.stop(cluster.folder)
    if account:
        subprocess.run(["userdel", ACCOUNT], check=False, capture_output=True)
        shutil.rmtree(account, ignore_errors=True)


def _wait_for_port(port: int, seconds: float = 30.0) -> None:
    """sshd daemonizes before it listens: wait until it does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"sshd is not listening on port {port}")


def _work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the root account's forced command works on each upload."""
    return tmp_path_factory.getbasetemp() / "forced-work"


def _account(client_key: str, slurm_conf: Path) -> Path | None:
    """A cluster account that is not root (its password field `*`: no password, not locked), with
    its own folder under /tmp holding its authorized keys (sshd reads them as the account), its
    forced.toml and a copy of the grader it can read; None when no account can be made here."""
    if shutil.which("useradd") is None:
        return None
    made = subprocess.run(
        ["useradd", "--system", "--shell", "/bin/sh", "--no-create-home", "--password", "*", ACCOUNT],
        capture_output=True,
        check=False,
    )
    if made.returncode not in (0, 9):  # 9: the account exists already
        return None
    home = Path(tempfile.mkdtemp(prefix="a2-forward-account-", dir="/tmp"))
    shutil.copytree(REPO / "grader", home / "source" / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in (home, *(path for path in (home / "source").rglob("*") if path.is_dir())):
        folder.chmod(0o755)
    config = home / "forced.toml"
    config.write_text(
        f'# {SECRET}\nprofile = "offline"\nslurm_conf = "{slurm_conf}"\nwork_dir = "{home / "work"}"\n'
    )
    shutil.chown(home, ACCOUNT)
    shutil.chown(config, ACCOUNT)
    config.chmod(0o600)
    line = authorized_keys_line(client_key, sys.executable, str(home / "source"), str(config))
    (home / f"keys_{ACCOUNT}").write_text(line + "\n")
    (home / f"keys_{ACCOUNT}").chmod(0o644)
    return home


def _cpu_results(path: Path, passed: bool, graded: str = "A2S3.py") -> dict:
    """A results.json as the CPU stand-in leaves it for §3's threshold test, naming the file graded."""
    rows = load_table().select(numbers={"3.5.1"})
    outcome = CheckOutcome(passed, "Held-out accuracy 0.99 (threshold 0.90).")
    results = build_results(rows, {"3.5.1": outcome}, "graded on the offline profile", 1)
    results["extra_data"] = {"graded_files": {"A2S3": graded}}
    write_results(path, results)
    return json.loads(path.read_text())


def _ask(config, upload: Path) -> tuple[dict | None, str]:
    return Forward(config, upload, upload.name).reply()


def _settled(path: Path) -> dict:
    return json.loads(path.read_text())["tests"][0]


def test_a_forwarded_threshold_run_replaces_the_cpu_result(forward_dir: Path, tmp_path: Path) -> None:
    reply, reason = _ask(load_config(forward_dir), A2S3)
    assert reply is not None, reason
    assert reply["status"] == "passed" and reply["profile"] == "offline", reply
    results = tmp_path / "results.json"
    _cpu_results(results, passed=False, graded=A2S3.name)
    settle(results, reply, "", regrade_promised=True, forwarded=A2S3.name)
    settled = json.loads(results.read_text())
    entry = settled["tests"][0]
    # The note says what the cluster's run was, in the words of the section's own resources.
    note = FORWARDED_NOTE.format(graded_on=SST2.graded_on(load_table().profile("offline")))
    assert entry["status"] == "passed" and entry["output"].startswith(note + "\n\n")
    assert "provisional" not in entry["extra_data"] and settled["score"] == entry["score"] > 0
    # The test's cluster grades on the offline stand-in, which posts nothing to the SST-2 leaderboard.
    assert reply["accuracy"] is None and "leaderboard" not in settled


def test_the_entry_and_leaderboard_are_rebuilt_from_the_validated_reply_alone(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    gpu = {"profile": "full", "status": "passed", "message": "0.93 on SST-2", "accuracy": 0.9312345}
    _cpu_results(results, passed=False)
    settle(
        results, {**gpu, "leaderboard": [{"name": "forged", "value": 99}], "score": 1000}, "", True, "A2S3.py"
    )
    settled = json.loads(results.read_text())
    assert settled["leaderboard"] == [{"name": "SST-2 held-out accuracy", "value": 0.9312, "order": "desc"}]
    assert settled["score"] == load_table().test("3.5.1").points, "nothing but the fields is read"
    malformed = {
        "an accuracy above 1": {**gpu, "accuracy": 1.5},
        "a NaN accuracy": {**gpu, "accuracy": float("nan")},
        "an unknown status": {**gpu, "status": "passed!"},
        "an unknown profile": {**gpu, "profile": "huge"},
        "no message": {**gpu, "message": None},
    }
    for what, reply in malformed.items():
        before = _cpu_results(results, passed=True)
        log = settle(results, reply, "", True, "A2S3.py")
        entry = _settled(results)
        assert entry["extra_data"].get("provisional") is True, what
        assert entry["score"] == before["tests"][0]["score"] and "leaderboard" not in json.loads(
            results.read_text()
        )
        assert "provisional" in log, what


def test_a_reply_for_another_file_than_the_one_graded_is_not_used(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    _cpu_results(results, passed=False, graded="A2S3 (1).py")
    reply = {"profile": "offline", "status": "passed", "message": "ok", "accuracy": None}
    log = settle(results, reply, "", True, forwarded="A2S3.py")
    assert (
        "graded 'A2S3.py' but this run graded 'A2S3 (1).py'" in log
        and _settled(results)["status"] == "failed"
    )


def test_the_forward_sends_the_file_the_grader_grades(tmp_path: Path) -> None:
    """An unfinished `A2S3.py` beside the finished `A2S3 (1).py`: the grader grades the latter, and so
    does the forward (nobody listens on the port: only the choice of file matters here)."""
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "A2S3.py").write_text("import torch\n")
    shutil.copy(A2S3, submission / "A2S3 (1).py")
    folder = _config_folder(
        tmp_path / "forward", f'host = "127.0.0.1"\nuser = "a2"\nport = {free_ports(1)[0]}\n'
    )
    started = start_forward(submission, folder)
    assert started.forward is not None and started.forward.relative == "A2S3 (1).py", started.log
    started.forward.process.kill()
    started.forward.process.communicate()


def _config_folder(folder: Path, toml: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "forward.toml").write_text(toml)
    (folder / "id_ed25519").write_text("key")
    (folder / "known_hosts").write_text("cluster.example.edu ssh-ed25519 AAAA\n")
    return folder


def test_forward_toml_is_checked_with_messages_that_name_the_key(tmp_path: Path) -> None:
    cases = {
        'host = "cluster.example.edu"\n': "`user` must be the cluster's user name",
        'host = "-oProxyCommand=x"\nuser = "a2"\n': "`host` must be the cluster's host name",
        'host = "h"\nuser = "a2"\nport = "22"\n': "`port` must be a TCP port number",
        'host = "h"\nuser = "a2"\ndeadline = -1\n': "`deadline` must be a number of seconds",
        'host = "h"\nuser = "a2"\nhsot = "h"\n': "unknown key(s) hsot",
        'host = "h"\nuser = ': "forward.toml: ",
    }
    for index, (toml, message) in enumerate(cases.items()):
        with pytest.raises(ForwardConfigError, match=re.escape(message)):
            load_config(_config_folder(tmp_path / str(index), toml))
    (tmp_path / "0" / "known_hosts").unlink()
    (tmp_path / "0" / "forward.toml").write_text('host = "h"\nuser = "a2"\n')
    with pytest.raises(ForwardConfigError, match="known_hosts is missing"):
        load_config(tmp_path / "0")


def test_with_the_forward_broken_the_cpu_result_stays_and_says_it_is_provisional(
    forward_dir: Path, tmp_path: Path
) -> None:
    config = load_config(forward_dir)
    wrong_host_key = tmp_path / "known_hosts"
    wrong_host_key.write_text(f"[127.0.0.1]:{config.port} " + _keygen(tmp_path / "other") + "\n")
    broken = {
        "nobody listening": replace(config, port=free_ports(1)[0]),
        "a wrong host key": replace(config, known_hosts=wrong_host_key),
    }
    for what, settings in broken.items():
        reply, reason = _ask(settings, A2S3)
        assert reply is None and "ssh exited with status 255" in reason, what
        results = tmp_path / f"{what}.json"
        before = _cpu_results(results, passed=True)
        settle(results, reply, reason, regrade_promised=True, forwarded=A2S3.name)
        entry = _settled(results)
        assert entry["output"].startswith(PROVISIONAL_NOTE) and entry["extra_data"]["provisional"] is True
        assert entry["score"] == before["tests"][0]["score"] > 0, what


def test_a_late_reply_is_not_waited_for(forward_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr("grader.cluster.forward.ssh_command", lambda *_: ["sleep", "60"])
    reply, reason = _ask(replace(load_config(forward_dir), deadline=0.5), A2S3)
    assert reply is None and reason == "no reply within the deadline of 0.5 s"


def test_the_key_runs_only_the_forced_command_on_an_a2s3_file(forward_dir: Path, tmp_path: Path) -> None:
    config = load_config(forward_dir)
    big = tmp_path / "A2S3.py"
    big.write_text("x = 1\n" * 50000)
    notebook = tmp_path / "A2S3.ipynb"
    notebook.write_text('{"not": "a notebook"}')
    cases = {
        "id; cat /etc/shadow": (A2S3, "the requested command must be one of py, ipynb"),
        "py": (big, "the file is larger than 200000 bytes"),
        "ipynb": (notebook, "the notebook has no list of cells"),
    }
    for command, (upload, error) in cases.items():
        with upload.open("rb") as stdin:
            finished = subprocess.run(
                [*ssh_command(config, "py")[:-1], command], stdin=stdin, capture_output=True, check=False
            )
        assert finished.returncode == 1, finished.stderr
        assert json.loads(finished.stdout) == {"error": error}, command


def test_a_notebook_that_forges_the_forward_gains_nothing_on_a_root_account(
    forward_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """As root, forced grades with the privilege drop: the notebook can neither rewrite its results,
    nor read forced.toml (0600), nor leave its work folder behind."""
    reply, reason = _ask(load_config(forward_dir), FORGER)
    assert reply is not None, reason
    assert reply["status"] != "passed" and reply["accuracy"] is None, reply
    assert "nothing could be read" in reply["message"], "the notebook ran, tried, and got nothing"
    assert SECRET not in json.dumps(reply) and "forged" not in json.dumps(reply)
    assert list(_work(tmp_path_factory).iterdir()) == [], "the work folder of the upload is gone"


def test_on_an_account_that_is_not_root_the_forward_refuses_and_the_cpu_result_stays(
    forward_dir: Path, tmp_path: Path
) -> None:
    """Without root (and without the grading image) the student's code would run as the account:
    forced refuses before reading the upload, and says why for the staff output."""
    config = replace(load_config(forward_dir), user=ACCOUNT)
    if subprocess.run(["id", ACCOUNT], capture_output=True, check=False).returncode != 0:
        pytest.skip("no account other than root could be made here")
    reply, reason = _ask(config, FORGER)
    assert reply is None and "the cluster refused: the cluster account is not root" in reason, reason
    assert SECRET not in reason
    results = tmp_path / "results.json"
    before = _cpu_results(results, passed=False)
    settle(results, reply, reason, regrade_promised=True, forwarded="A2S3.py")
    entry = _settled(results)
    assert entry["score"] == before["tests"][0]["score"] == 0 and entry["extra_data"]["provisional"] is True


def test_forced_grades_only_where_the_code_is_confined(monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "forced.toml"
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert confinement_problem({}, config) == NOT_CONFINED.format(config=config)
    assert confinement_problem({"grader_command": "apptainer exec a2.sif python -m grader"}, config) == ""
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert confinement_problem({}, config) == ""


REMOVE_AS_ACCOUNT = """
import os, sys
from pathlib import Path
from grader.cluster.forced import remove_work
work = Path(sys.argv[1]) / "a2-forward-x"
(work / "submission" / "deep").mkdir(parents=True)
(work / "submission" / "deep" / "file").write_text("x")
(work / "results.json").write_text("{}")
os.chmod(work / "submission" / "deep", 0o000)
os.chmod(work / "submission", 0o500)
os.chmod(work, 0o500)
print(remove_work(work), work.exists())
"""


def test_the_work_folder_is_removed_whatever_modes_the_code_left() -> None:
    """Run as an account that is not root (modes bind it), as a notebook on such an account left them;
    that account reads the grader from a copy open to it, under /tmp."""
    with tempfile.TemporaryDirectory(prefix="a2-forward-work-", dir="/tmp") as top:
        _remove_as_account(Path(top))


def _remove_as_account(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "grader", tmp_path / "code" / "grader", ignore=shutil.ignore_patterns("__pycache__")
    )
    for folder in (tmp_path, *(path for path in (tmp_path / "code").rglob("*") if path.is_dir())):
        folder.chmod(0o777)
    as_user = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
    finished = subprocess.run(
        [sys.executable, "-c", REMOVE_AS_ACCOUNT, str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "code")},
        capture_output=True,
        text=True,
        check=False,
        **as_user,
    )
    assert finished.stdout.strip() == "[] False", finished.stdout + finished.stderr


def test_without_a_forward_nothing_promises_a_regrade(tmp_path: Path, monkeypatch) -> None:
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copy(A2S3, submission / "A2S3.py")
    started = start_forward(submission, folder=tmp_path / "no-forward-here")
    assert started == ForwardStart(None, False, "no forward configured: 3.5.1 stays on the CPU")
    results = tmp_path / "results.json"
    before = _cpu_results(results, passed=True)
    log = finish_forward(started, results)
    assert log.startswith("3.5.1 stays the CPU stand-in's check (no GPU regrade is announced)")
    assert _settled(results) == before["tests"][0], "nothing promises a regrade nobody will run"
    # A course that will regrade on the GPU says so in the table; then 3.5.1 is provisional.
    overlay = tmp_path / "table"
    shutil.copytree(TABLE_PATH.parent / "courses", overlay / "courses")
    (overlay / "assignment.toml").write_text(
        TABLE_PATH.read_text().replace("gpu_regrade = false", "gpu_regrade = true")
    )
    monkeypatch.setattr(forward, "load_table", lambda: load_table(overlay / "assignment.toml"))
    _cpu_results(results, passed=True)
    assert "to be regraded on the GPU" in finish_forward(started, results)
    entry = _settled(results)
    assert entry["output"].startswith(PROVISIONAL_NOTE) and entry["status"] == "passed"


def test_make_autograder_packs_the_forward_only_when_asked_and_checks_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("A2_FORWARD_DIR", raising=False)
    assert not any(name.startswith("forward/") for name in zip_entries())
    monkeypatch.setenv("A2_FORWARD_DIR", str(tmp_path))
    (tmp_path / "forward.toml").write_text('host = "cluster.example.edu"\nuser = "a2grader"\n')
    (tmp_path / "id_ed25519").write_text("key")
    with pytest.raises(ForwardConfigError, match="known_hosts"):
        zip_entries()
    (tmp_path / "known_hosts").write_text("cluster.example.edu ssh-ed25519 AAAA\n")
    packed = {name: path for name, path in zip_entries().items() if name.startswith("forward/")}
    assert packed == {
        f"forward/{name}": tmp_path / name for name in ("forward.toml", "id_ed25519", "known_hosts")
    }
    assert load_config(tmp_path).port == 22 and load_config(tmp_path).deadline == 1500
    (tmp_path / "forward.toml").write_text('host = "cluster.example.edu"\n')
    with pytest.raises(ForwardConfigError, match="`user`"):
        zip_entries()


def test_forward_keys_makes_the_three_files_and_the_restricted_line(tmp_path: Path) -> None:
    _keygen(tmp_path / "host_key")
    folder = tmp_path / "forward"
    command = [sys.executable, "-m", "grader.cluster.forward_keys", str(folder), "--host", "gpu.example.edu"]
    command += ["--user", "a2grader", "--port", "2222", "--host-key", str(tmp_path / "host_key.pub")]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    config = load_config(folder)
    assert (config.host, config.user, config.port) == ("gpu.example.edu", "a2grader", 2222)
    assert (
        oct(folder.stat().st_mode & 0o777) == "0o700"
        and oct((folder / "id_ed25519").stat().st_mode & 0o777) == "0o600"
    )
    assert (folder / "known_hosts").read_text().startswith("[gpu.example.edu]:2222 ssh-ed25519 ")
    line = finished.stdout.splitlines()[-1]
    forced = "cd /opt/a2grader/source && exec /opt/a2grader/venv/bin/python -m grader.cluster.forced"
    assert line.startswith(f'command="{forced} --config /etc/a2grader/forced.toml",restrict ssh-ed25519 ')
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "make a new folder" in again.stderr, "a key is never overwritten"
