"""The Gradescope end of the live §3 forward: send A2S3 to the course's GPU cluster, take back 3.5.1.

Gradescope has no GPU, so run_autograder grades §3 on the CPU stand-in. When the image holds a
forward configuration (FORWARD_DIR, root-only, installed at `make autograder` time from
$A2_FORWARD_DIR), the student's A2S3 file is also sent over ssh to the cluster, whose key allows only
grader.cluster.forced: it grades the threshold test (3.5.1) there on a GPU with the `full` profile
and returns that test's results.json entry. The ssh runs from the trusted process while the local
grading goes on, so the wait overlaps it; the student's process never sees the key, the host or the
reply before it is validated.

When the forward is not configured, cannot connect, fails, or is later than its deadline, the CPU
stand-in's 3.5.1 stays and is labelled provisional (in its output and in `extra_data.provisional`);
the after-deadline regrade on the cluster (`grader batch --slurm --profile full`) replaces it.

forward.toml: `host`, `user`, optional `port` (22) and `deadline` (seconds, counted from the start of
grading); the private key `id_ed25519` and `known_hosts` sit beside it. `make autograder` with
A2_FORWARD_DIR set packs those three files into the zip (forward/); setup.sh moves them to
FORWARD_DIR, root-only, and removes them from the source folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import FAILED, PASSED
from grader.intake.discover import discover
from grader.results import CheckOutcome, test_entry, write_results
from grader.table import load_table

FORWARD_DIR = Path("/etc/a2grader/forward")
CONFIG_FILE = "forward.toml"
KEY_FILE = "id_ed25519"
KNOWN_HOSTS_FILE = "known_hosts"
PACKAGED_FILES = (CONFIG_FILE, KEY_FILE, KNOWN_HOSTS_FILE)
SOURCE_VARIABLE = "A2_FORWARD_DIR"
THRESHOLD_TEST = "3.5.1"
DEFAULT_DEADLINE = 1500.0
CONNECT_SECONDS = 20
REPLY_LIMIT = 1024 * 1024
FORWARDED_NOTE = "Graded on the course's GPU cluster (roberta-base on SST-2)."
PROVISIONAL_NOTE = (
    "Provisional: this result comes from the CPU stand-in (a small model on generated SST-2-style data) "
    "because the course's GPU cluster did not return a result in time. The course staff regrade it on "
    "the GPU after the deadline, and that result replaces this one."
)


@dataclass(frozen=True)
class ForwardConfig:
    host: str
    user: str
    port: int
    identity: Path
    known_hosts: Path
    deadline: float


def load_config(folder: Path = FORWARD_DIR) -> ForwardConfig | None:
    """The forward's settings, or None when this image has none."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        return None
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return ForwardConfig(
        host=str(raw["host"]),
        user=str(raw["user"]),
        port=int(raw.get("port", 22)),
        identity=folder / KEY_FILE,
        known_hosts=folder / KNOWN_HOSTS_FILE,
        deadline=float(raw.get("deadline", DEFAULT_DEADLINE)),
    )


def packaged_files() -> dict[str, Path]:
    """The zip entries of the forward's configuration (`forward/<file>`), from $A2_FORWARD_DIR when
    it is set; raises SystemExit naming what is missing."""
    source = os.environ.get(SOURCE_VARIABLE)
    if not source:
        return {}
    files = {f"forward/{name}": Path(source) / name for name in PACKAGED_FILES}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise SystemExit(f"{SOURCE_VARIABLE} lacks {', '.join(missing)}")
    return files


def ssh_command(config: ForwardConfig, kind: str) -> list[str]:
    """ssh with this key only, the pinned host key, no agent, no prompts, no forwarding of anything."""
    options = {
        "BatchMode": "yes",
        "IdentitiesOnly": "yes",
        "IdentityAgent": "none",
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": str(config.known_hosts),
        "GlobalKnownHostsFile": "/dev/null",
        "ConnectTimeout": str(CONNECT_SECONDS),
        "ServerAliveInterval": "30",
        "ForwardAgent": "no",
        "ForwardX11": "no",
        "ClearAllForwardings": "yes",
        "RequestTTY": "no",
    }
    command = ["ssh", "-F", "/dev/null", "-i", str(config.identity), "-p", str(config.port)]
    for key, value in options.items():
        command += ["-o", f"{key}={value}"]
    return [*command, f"{config.user}@{config.host}", kind]


class Forward:
    """One forward in flight: started before the local grading, settled after it."""

    def __init__(self, config: ForwardConfig, a2s3: Path) -> None:
        self.config = config
        self.started = time.monotonic()
        kind = "ipynb" if a2s3.suffix.lower() == ".ipynb" else "py"
        with a2s3.open("rb") as upload:
            self.process = subprocess.Popen(
                ssh_command(config, kind),
                stdin=upload,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )

    def reply(self) -> tuple[dict[str, Any] | None, str]:
        """The cluster's reply, or None and why not (waiting at most until the deadline)."""
        remaining = max(0.0, self.config.deadline - (time.monotonic() - self.started))
        try:
            stdout, stderr = self.process.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return None, f"no reply within the deadline of {self.config.deadline:g} s"
        text = stdout[:REPLY_LIMIT].decode("utf-8", errors="replace").strip()
        try:
            reply = json.loads(text.splitlines()[-1]) if text else None
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            detail = stderr.decode("utf-8", errors="replace").strip()[-300:]
            return None, f"ssh exited with status {self.process.returncode}: {detail or 'no reply'}"
        if "error" in reply:
            return None, f"the cluster refused: {reply['error']}"
        return reply, ""


def forwarded_entry(reply: dict[str, Any]) -> dict[str, Any]:
    """The cluster's 3.5.1 entry rebuilt from our own table row (only pass/fail and the message are
    taken from the reply); raises ValueError when the reply is not a 3.5.1 entry."""
    test = reply.get("test")
    if not isinstance(test, dict) or test.get("number") != THRESHOLD_TEST:
        raise ValueError("the reply holds no 3.5.1 entry")
    status = test.get("status")
    if status not in ("passed", "failed") or not isinstance(test.get("output", ""), str):
        raise ValueError("the reply's 3.5.1 entry is malformed")
    extra = test.get("extra_data")
    detail = str((extra.get("status") if isinstance(extra, dict) else None) or status)
    message = f"{FORWARDED_NOTE}\n\n{test.get('output', '')}".strip()
    return test_entry(
        load_table().test(THRESHOLD_TEST), CheckOutcome(status == PASSED, message, status=detail)
    )


def settle(results_path: Path, reply: dict[str, Any] | None, reason: str) -> str:
    """Puts the cluster's 3.5.1 into results.json, or labels the CPU stand-in's provisional.
    Returns a line for the instructors' log."""
    results = json.loads(results_path.read_text(encoding="utf-8"))
    index = next((i for i, t in enumerate(results["tests"]) if t.get("number") == THRESHOLD_TEST), None)
    if index is None:
        return "3.5.1 was not graded: nothing to settle"
    if results["tests"][index].get("extra_data", {}).get("status") not in (PASSED, FAILED):
        return "3.5.1 has no accuracy to settle (no file, or the code could not run)"
    if reply is not None:
        try:
            results["tests"][index] = forwarded_entry(reply)
            board = reply.get("leaderboard")
            if isinstance(board, list) and board:
                results["leaderboard"] = board
            log = "3.5.1 graded on the GPU cluster"
        except ValueError as error:
            reply, reason = None, str(error)
    if reply is None:
        entry = results["tests"][index]
        entry["output"] = f"{PROVISIONAL_NOTE}\n\n{entry.get('output', '')}".strip()
        entry.setdefault("extra_data", {})["provisional"] = True
        log = f"3.5.1 is the provisional CPU result: {reason}"
    results["score"] = round(sum(test["score"] for test in results["tests"]), 4)
    write_results(results_path, results)
    return log


def start_forward(submission_dir: Path, folder: Path = FORWARD_DIR) -> tuple[Forward | None, str]:
    """Starts the forward of the submission's A2S3 when this image is configured for one; returns it
    (or None) and a line for the instructors' log."""
    try:
        config = load_config(folder)
    except (OSError, ValueError, KeyError) as error:
        return None, f"the §3 forward is misconfigured ({error}): 3.5.1 stays on the CPU"
    if config is None:
        return None, "no §3 forward configured: 3.5.1 stays on the CPU"
    found = discover(submission_dir, ["A2S3"])["A2S3"].path
    if found is None:
        return None, "no A2S3 file: nothing to forward"
    try:
        return Forward(config, found), f"forwarding {found.name} to the GPU cluster"
    except OSError as error:
        return None, f"the §3 forward could not start ({error}): 3.5.1 stays on the CPU"


def finish_forward(forward: Forward | None, results_path: Path, reason: str) -> str:
    """Waits for the forward (until its deadline) and settles 3.5.1; returns a line for the log."""
    reply, why = forward.reply() if forward is not None else (None, reason)
    return settle(results_path, reply, why)
