"""A one-node Slurm (slurmctld, slurmd and munged) in a folder of its own, for tests and benchmarks,
and for an instructor to try `grader batch --slurm` on one machine before using the course's cluster.

Everything lives under one folder: the munge key, slurm.conf, state, spool, logs and pid files (the
munge socket, whose every parent folder munged wants open to all, lives in /run/a2-localslurm-PORT/);
the daemons listen on the ports given (not Slurm's defaults, so a real installation on the
same machine is untouched) and are stopped by the pids they wrote. Needs root and Debian's `slurm-wlm`
and `munge` packages. It changes nothing on the machine unasked: when they are missing it says which
to install, and only `--install` installs them, with apt-get, saying so first.

    python -m grader slurm start FOLDER [--install]   # prints the SLURM_CONF to export
    python -m grader slurm stop FOLDER

(`python -m grader.cluster.localslurm` is the same command.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader.commands import ModuleVerb

PACKAGES = ("slurm-wlm", "munge")
BINARIES = ("slurmctld", "slurmd", "munged", "sbatch")
DAEMONS = ("slurmctld", "slurmd", "munged")
CONTROLLER_PORT = 16817
NODE_PORT = 16818
START_SECONDS = 60.0
EXAMPLES = (
    "python -m grader slurm start /tmp/a2-slurm --install   # then export the SLURM_CONF it prints",
    "python -m grader batch export.zip --out regrade-slurm --course 447 --slurm",
    "python -m grader slurm stop /tmp/a2-slurm",
)


class LocalSlurmError(RuntimeError):
    """The local Slurm could not be started; the message says why."""


class PackagesMissing(LocalSlurmError):
    """Debian packages this needs are missing and cannot be installed on this machine."""


@dataclass(frozen=True)
class LocalSlurm:
    """A started one-node Slurm: export `environment()` to its clients (sbatch, squeue, scancel)."""

    folder: Path
    partition: str
    socket_dir: Path

    @property
    def conf(self) -> Path:
        return self.folder / "slurm.conf"

    def environment(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports nobody listens on now (for tests that may run beside another copy
    of themselves)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def ensure_packages(
    packages: tuple[str, ...] = PACKAGES, binaries: tuple[str, ...] = BINARIES, install: bool = False
) -> None:
    """Checks that `binaries` are there; when one is missing, raises PackagesMissing naming the
    packages to install, or with `install` installs them with apt-get (needs root and a mirror),
    saying so first."""
    missing = [name for name in binaries if not (shutil.which(name) or Path(name).exists())]
    if not missing:
        return
    if not install:
        raise PackagesMissing(
            f"{', '.join(missing)} not found: install Debian's {', '.join(packages)} "
            f"(`apt-get install {' '.join(packages)}`), "
            "or pass --install to let this command do it"
        )
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PackagesMissing(f"{', '.join(packages)} missing, and apt-get cannot install them here")
    print(f"Installing {', '.join(packages)} with apt-get (for {', '.join(missing)}).", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        finished = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        if finished.returncode != 0:
            raise PackagesMissing(f"{' '.join(command)} failed: {finished.stderr.strip()[-500:]}")


def _config(folder: Path, socket_dir: Path, partition: str, controller_port: int, node_port: int) -> str:
    host = socket.gethostname()
    cpus = os.cpu_count() or 1
    return "\n".join(
        [
            "ClusterName=a2grader",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={controller_port}",
            f"SlurmdPort={node_port}",
            "SlurmUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={socket_dir / 'munge.sock'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "MpiDefault=none",
            "ReturnToService=2",
            "SchedulerParameters=sched_interval=2",
            f"StateSaveLocation={folder / 'state'}",
            f"SlurmdSpoolDir={folder / 'spool'}",
            f"SlurmctldPidFile={folder / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={folder / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
            f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN",
            f"PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


def start(
    folder: Path,
    partition: str = "grading",
    controller_port: int = CONTROLLER_PORT,
    node_port: int = NODE_PORT,
    install: bool = False,
) -> LocalSlurm:
    """Starts munged, slurmctld and slurmd under `folder`; waits until the node takes jobs. Missing
    Slurm or munge is an error naming the packages, unless `install` (see ensure_packages)."""
    ensure_packages(install=install)
    folder = folder.resolve()
    for name, mode in (("key", 0o700), ("run", 0o700), ("state", 0o700), ("spool", 0o700), ("log", 0o700)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name).chmod(mode)
    socket_dir = Path("/run") / f"a2-localslurm-{controller_port}"
    socket_dir.mkdir(mode=0o755, exist_ok=True)
    key = folder / "key" / "munge.key"
    if not key.exists():
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
    cluster = LocalSlurm(folder, partition, socket_dir)
    cluster.conf.write_text(_config(folder, socket_dir, partition, controller_port, node_port))
    run = folder / "run"
    _daemon(
        [
            "munged",
            f"--key-file={key}",
            f"--socket={socket_dir / 'munge.sock'}",
            f"--pid-file={run / 'munged.pid'}",
            f"--log-file={folder / 'log' / 'munged.log'}",
            f"--seed-file={folder / 'key' / 'seed'}",
        ],
        folder,
    )
    _daemon(["slurmctld", "-f", str(cluster.conf)], folder)
    _daemon(["slurmd", "-f", str(cluster.conf)], folder)
    _wait_idle(cluster)
    return cluster


def _daemon(command: list[str], folder: Path) -> None:
    finished = subprocess.run(command, capture_output=True, text=True, check=False, timeout=START_SECONDS)
    if finished.returncode != 0:
        stop(folder)
        raise LocalSlurmError(f"{command[0]} did not start: {(finished.stderr or finished.stdout).strip()}")


def _wait_idle(cluster: LocalSlurm) -> None:
    deadline = time.monotonic() + START_SECONDS
    state = ""
    while time.monotonic() < deadline:
        finished = subprocess.run(
            ["sinfo", "-h", "-o", "%t"],
            env=cluster.environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        state = finished.stdout.strip()
        if state in ("idle", "mix", "alloc"):
            return
        time.sleep(1)
    logs = "\n".join(
        path.read_text(errors="replace")[-800:]
        for path in sorted((cluster.folder / "log").glob("slurm*.log"))
    )
    stop(cluster.folder)
    raise LocalSlurmError(f"the local Slurm node did not become idle (state {state!r}):\n{logs}")


def stop(folder: Path) -> None:
    """Stops the daemons started under `folder`, by the pids in their pid files, waits for them, and
    removes the munge socket's folder."""
    for name in DAEMONS:
        pid_file = folder / "run" / f"{name}.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    try:
        settings = (folder / "slurm.conf").read_text().splitlines()
    except OSError:
        return
    for line in settings:
        if line.startswith("AuthInfo=socket="):
            shutil.rmtree(Path(line.removeprefix("AuthInfo=socket=")).parent, ignore_errors=True)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("folder", type=Path, help="where everything of this Slurm lives")
    parser.add_argument(
        "--install",
        action="store_true",
        help=f"install {' and '.join(PACKAGES)} with apt-get when they are missing "
        "(without it: an error naming them)",
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "stop":
        stop(args.folder)
        return 0
    try:
        cluster = start(args.folder, install=args.install)
    except LocalSlurmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"export SLURM_CONF={cluster.conf}")
    return 0


VERB = ModuleVerb(
    "slurm",
    "grader.cluster.localslurm",
    summary="start or stop a one-node Slurm to try `batch --slurm`",
    description=__doc__,
    examples=EXAMPLES,
    arguments=_arguments,
    run=run,
)
register = VERB.register
main = VERB.main


if __name__ == "__main__":
    sys.exit(main())
