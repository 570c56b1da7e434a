"""`grader.cluster.localslurm` changes nothing on the machine unasked: missing Slurm or munge is an
error naming the packages; only an explicit install runs apt-get, and says so first."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from grader.cluster import localslurm


def test_missing_packages_are_named_and_nothing_is_installed(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(localslurm.shutil, "which", lambda _: None)
    ran: list[list[str]] = []
    monkeypatch.setattr(localslurm.subprocess, "run", lambda command, **_: ran.append(command))
    with pytest.raises(
        localslurm.PackagesMissing, match=r"install Debian's slurm-wlm, munge \(`apt-get install"
    ):
        localslurm.start(tmp_path / "slurm")
    assert ran == [] and not (tmp_path / "slurm").exists()


def test_an_explicit_install_says_so_before_running_apt_get(monkeypatch, capsys) -> None:
    monkeypatch.setattr(
        localslurm.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None
    )
    monkeypatch.setattr(localslurm.os, "geteuid", lambda: 0)
    ran: list[list[str]] = []
    said: list[str] = []

    def run(command: list[str], **_) -> subprocess.CompletedProcess:
        said.append(capsys.readouterr().out)
        ran.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(localslurm.subprocess, "run", run)
    localslurm.ensure_packages(install=True)
    assert "Installing slurm-wlm, munge with apt-get" in said[0], "said before apt-get ran"
    assert ran[-1][:3] == ["apt-get", "install", "-y"] and ran[-1][-2:] == ["slurm-wlm", "munge"]
