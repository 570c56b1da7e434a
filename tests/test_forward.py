"""The live §3 forward: sshd on the loopback address (its own port, host key and config) whose key may
run only grader.cluster.forced, which grades 3.5.1 through a one-node Slurm started here.

Forwarded, the cluster's 3.5.1 replaces the CPU stand-in's; broken (nobody listening, a wrong host
key, a late reply) the CPU result stays and says it is provisional; the forced command refuses
anything but an A2S3 file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from grader.cluster import localslurm
from grader.cluster.forward import (
    FORWARDED_NOTE,
    PROVISIONAL_NOTE,
    Forward,
    finish_forward,
    load_config,
    settle,
    ssh_command,
    start_forward,
)
from grader.cluster.localslurm import free_ports
from grader.results import CheckOutcome, build_results, write_results
from grader.table import load_table
from gradescope.package import zip_entries

REPO = Path(__file__).resolve().parent.parent
A2S3 = REPO / "tests" / "submissions" / "a2s3" / "correct_colab.py"


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="module")
def forward_dir(tmp_path_factory: pytest.TempPathFactory):
    """The image's forward folder (key, known_hosts, forward.toml) pointing at a running sshd."""
    try:
        controller, node, ssh_port = free_ports(3)
        folder = tmp_path_factory.mktemp("slurm")
        cluster = localslurm.start(folder, controller_port=controller, node_port=node)
    except localslurm.PackagesMissing as error:
        pytest.skip(f"no local Slurm: {error}")
    try:
        localslurm.ensure_packages(("openssh-server",), ("/usr/sbin/sshd",))
    except localslurm.PackagesMissing as error:
        pytest.skip(str(error))
    server = tmp_path_factory.mktemp("sshd")
    host_key = _keygen(server / "host_key")
    client_key = _keygen(server / "client_key")
    forced_config = server / "forced.toml"
    forced_config.write_text(
        f'profile = "offline"\nslurm_conf = "{cluster.conf}"\nwork_dir = "{server / "work"}"\n'
        f"timeout = 900\nmax_bytes = 200000\n"
    )
    forced = f"cd {REPO} && exec {sys.executable} -m grader.cluster.forced --config {forced_config}"
    (server / "authorized_keys").write_text(f'command="{forced}",restrict {client_key}\n')
    (server / "sshd_config").write_text(
        "\n".join(
            [
                f"Port {ssh_port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {server / 'host_key'}",
                f"AuthorizedKeysFile {server / 'authorized_keys'}",
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
    image = tmp_path_factory.mktemp("forward")
    shutil.copy(server / "client_key", image / "id_ed25519")
    (image / "known_hosts").write_text(f"[127.0.0.1]:{ssh_port} {host_key}\n")
    (image / "forward.toml").write_text(
        f'host = "127.0.0.1"\nport = {ssh_port}\nuser = "root"\ndeadline = 900\n'
    )
    yield image
    os.kill(int((server / "sshd.pid").read_text()), signal.SIGTERM)
    localslurm.stop(cluster.folder)


def _cpu_results(path: Path, passed: bool) -> dict:
    """A results.json as the CPU stand-in leaves it for §3's threshold test."""
    rows = load_table().select(numbers={"3.5.1"})
    outcome = CheckOutcome(passed, "Held-out accuracy 0.99 (threshold 0.90).")
    write_results(path, build_results(rows, {"3.5.1": outcome}, "graded on the offline profile", 1))
    return json.loads(path.read_text())


def _ask(config, upload: Path) -> tuple[dict | None, str]:
    return Forward(config, upload).reply()


def test_a_forwarded_threshold_run_replaces_the_cpu_result(forward_dir: Path, tmp_path: Path) -> None:
    reply, reason = _ask(load_config(forward_dir), A2S3)
    assert reply is not None, reason
    assert reply["test"]["number"] == "3.5.1" and reply["test"]["status"] == "passed", reply
    results = tmp_path / "results.json"
    _cpu_results(results, passed=False)
    settle(results, reply, "")
    settled = json.loads(results.read_text())
    entry = settled["tests"][0]
    assert entry["status"] == "passed" and entry["output"].startswith(FORWARDED_NOTE)
    assert "provisional" not in entry["extra_data"] and settled["score"] == entry["score"] > 0
    # The test's cluster grades on the offline stand-in, which posts nothing to the SST-2 leaderboard;
    # a GPU cluster's reply carries its entry, and settling passes that on.
    assert reply["leaderboard"] == [] and "leaderboard" not in settled
    board = [{"name": "SST-2 held-out accuracy", "value": 0.93, "order": "desc"}]
    _cpu_results(results, passed=False)
    settle(results, {**reply, "leaderboard": board}, "")
    assert json.loads(results.read_text())["leaderboard"] == board


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
        settle(results, reply, reason)
        entry = json.loads(results.read_text())["tests"][0]
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


def test_without_a_forward_configured_the_cpu_result_is_provisional(tmp_path: Path) -> None:
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copy(A2S3, submission / "A2S3.py")
    forward, reason = start_forward(submission, folder=tmp_path / "no-forward-here")
    assert forward is None and reason == "no §3 forward configured: 3.5.1 stays on the CPU"
    results = tmp_path / "results.json"
    _cpu_results(results, passed=True)
    assert finish_forward(None, results, reason) == f"3.5.1 is the provisional CPU result: {reason}"
    entry = json.loads(results.read_text())["tests"][0]
    assert entry["output"].startswith(PROVISIONAL_NOTE) and entry["status"] == "passed"


def test_make_autograder_packs_the_forward_only_when_asked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("A2_FORWARD_DIR", raising=False)
    assert not any(name.startswith("forward/") for name in zip_entries())
    monkeypatch.setenv("A2_FORWARD_DIR", str(tmp_path))
    (tmp_path / "forward.toml").write_text('host = "cluster.example.edu"\nuser = "a2grader"\n')
    (tmp_path / "id_ed25519").write_text("key")
    with pytest.raises(SystemExit, match="known_hosts"):
        zip_entries()
    (tmp_path / "known_hosts").write_text("cluster.example.edu ssh-ed25519 AAAA\n")
    packed = {name: path for name, path in zip_entries().items() if name.startswith("forward/")}
    assert packed == {
        f"forward/{name}": tmp_path / name for name in ("forward.toml", "id_ed25519", "known_hosts")
    }
    assert load_config(tmp_path).port == 22 and load_config(tmp_path).deadline == 1500
