"""Makes the live §3 forward's files: `python -m grader forward FOLDER --host H --user U`.

Writes into FOLDER (created 0700): a new ed25519 key pair made for the forward alone (`id_ed25519`,
no passphrase, since run_autograder cannot type one), `known_hosts` pinning the cluster's host key
(from `--host-key`, a copy of the cluster's /etc/ssh/ssh_host_ed25519_key.pub, or `--scan`, which
asks the host and prints the fingerprint to compare on the cluster), and `forward.toml`, checked as
run_autograder will read it. Then it prints the line for the cluster account's authorized_keys: the
key may run grader.cluster.forced and nothing else (`restrict`: no shell, no forwarding, no pty).

The private key travels in the autograder zip (`A2_FORWARD_DIR=FOLDER make autograder COURSE=…`),
which every staff member of the Gradescope course can download: it is a restricted key that can only
submit a notebook file for grading, and it is revoked by deleting its line from authorized_keys (make a
new pair each term). docs/live-s3.md says what it can and cannot do.
`python -m grader.cluster.forward_keys` is the same command.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from grader.cluster.forward import (
    CONFIG_FILE,
    DEFAULT_DEADLINE,
    KEY_FILE,
    KNOWN_HOSTS_FILE,
    ForwardConfigError,
    load_config,
)
from grader.commands import ModuleVerb

KEY_COMMENT = "a2-gradescope-forward"
CLUSTER_PYTHON = "/opt/a2grader/venv/bin/python"
CLUSTER_SOURCE = "/opt/a2grader/source"
CLUSTER_CONFIG = "/etc/a2grader/forced.toml"
EXAMPLES = (
    "python -m grader forward ~/a2-forward-447 --host gpu.example.edu --user a2grader "
    "--host-key cluster_host_key.pub",
    "python -m grader forward ~/a2-forward-447 --host gpu.example.edu --user a2grader --scan",
    "A2_FORWARD_DIR=~/a2-forward-447 python -m grader package --course 447   # the zip, with the forward",
)


def host_entry(host: str, port: int) -> str:
    """How known_hosts names a host: bare on port 22, `[host]:port` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def host_key_line(host: str, port: int, host_key: Path | None) -> str:
    """The known_hosts line for the cluster, from its public host key file or from ssh-keyscan."""
    if host_key is not None:
        key_type, key = host_key.read_text(encoding="utf-8").split()[:2]
        return f"{host_entry(host, port)} {key_type} {key}\n"
    scanned = subprocess.run(
        ["ssh-keyscan", "-t", "ed25519", "-p", str(port), host],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = [line for line in scanned.stdout.splitlines() if line and not line.startswith("#")]
    if not lines:
        raise ForwardConfigError(
            f"ssh-keyscan found no ed25519 host key at {host}:{port}: {scanned.stderr.strip()}"
        )
    return lines[0] + "\n"


def authorized_keys_line(public_key: str, python: str, source: str, config: str) -> str:
    """The cluster account's authorized_keys line: this key runs the forced command and nothing else."""
    run = shlex.join([python, "-m", "grader.cluster.forced", "--config", config])
    forced = f"cd {shlex.quote(source)} && exec {run}"
    return f'command="{forced}",restrict {public_key.strip()}'


def make_forward(
    folder: Path, host: str, user: str, port: int, deadline: float, host_key: Path | None
) -> str:
    """Writes the key pair, known_hosts and forward.toml into `folder`; returns the public key."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    key = folder / KEY_FILE
    if key.exists():
        raise ForwardConfigError(f"{key} exists: make a new folder for a new key (and revoke the old one)")
    known_hosts = host_key_line(host, port, host_key)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", KEY_COMMENT, "-f", str(key)], check=True
    )
    (folder / KNOWN_HOSTS_FILE).write_text(known_hosts, encoding="utf-8")
    (folder / CONFIG_FILE).write_text(
        f'host = "{host}"\nuser = "{user}"\nport = {port}\ndeadline = {deadline:g}\n', encoding="utf-8"
    )
    load_config(folder)
    return key.with_suffix(".pub").read_text(encoding="utf-8")


def fingerprint(known_hosts: Path) -> str:
    finished = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(known_hosts)], capture_output=True, text=True, check=False
    )
    return finished.stdout.strip()


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="where the three files go (then A2_FORWARD_DIR=FOLDER)")
    parser.add_argument("--host", required=True, help="the cluster's login host")
    parser.add_argument("--user", required=True, help="the cluster account the forward logs in as")
    parser.add_argument("--port", type=int, default=22, help="its ssh port (default 22)")
    parser.add_argument(
        "--deadline",
        type=float,
        default=DEFAULT_DEADLINE,
        help="seconds run_autograder waits for the cluster, counted from the start of grading "
        f"(default {DEFAULT_DEADLINE:g})",
    )
    found = parser.add_mutually_exclusive_group(required=True)
    found.add_argument(
        "--host-key", type=Path, help="the cluster's public host key (/etc/ssh/ssh_host_ed25519_key.pub)"
    )
    found.add_argument(
        "--scan", action="store_true", help="ask the host for its key (then compare the fingerprint)"
    )
    parser.add_argument(
        "--python", default=CLUSTER_PYTHON, help=f"the grader's Python on the cluster ({CLUSTER_PYTHON})"
    )
    parser.add_argument(
        "--source", default=CLUSTER_SOURCE, help=f"the grader's folder on the cluster ({CLUSTER_SOURCE})"
    )
    parser.add_argument(
        "--config", default=CLUSTER_CONFIG, help=f"forced.toml on the cluster ({CLUSTER_CONFIG})"
    )


def run(args: argparse.Namespace) -> int:
    try:
        public_key = make_forward(args.folder, args.host, args.user, args.port, args.deadline, args.host_key)
    except (ForwardConfigError, OSError, ValueError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {args.folder}/{{{KEY_FILE},{KEY_FILE}.pub,{KNOWN_HOSTS_FILE},{CONFIG_FILE}}}")
    print(f"The cluster's host key, as pinned: {fingerprint(args.folder / KNOWN_HOSTS_FILE)}")
    if args.scan:
        print("Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the cluster.")
    print(f"Add this line to ~{args.user}/.ssh/authorized_keys on {args.host}:")
    print(authorized_keys_line(public_key, args.python, args.source, args.config))
    return 0


VERB = ModuleVerb(
    "forward",
    "grader.cluster.forward_keys",
    summary="make the live §3 forward's key files (docs/live-s3.md)",
    description=__doc__,
    examples=EXAMPLES,
    arguments=_arguments,
    run=run,
)
register = VERB.register
main = VERB.main


if __name__ == "__main__":
    sys.exit(main())
