"""The Gradescope end of the live forward: send one notebook to the course's GPU cluster, take back one test.

Gradescope has no GPU, so run_autograder grades on the CPU, with a stand-in for what needs a GPU. An
assignment may name one test that the course's GPU cluster grades live instead (its table's
`forwarded_test`, with the `leaderboard` name that test posts under). When the image holds a forward
configuration (FORWARD_DIR, root-only, installed at `make autograder` time from $A2_FORWARD_DIR), the
student's file for that test's section, the very file the local run grades (chosen by the same
discovery, and checked against the one the run names in `extra_data.graded_files`), is also sent over
ssh to the cluster, whose key allows only grader.cluster.forced: it grades the forwarded test there on
a GPU with the `full` profile. The ssh runs from the trusted process while the local grading
goes on, so the wait overlaps it; the student's process never sees the key, the host or the reply.

The reply is validated field by field (status, message, profile, accuracy in [0, 1]) and the test's
entry is rebuilt here from our own table row; the leaderboard entry is rebuilt from the validated
accuracy alone, and only for a profile whose resources are not a stand-in: nothing of the cluster's
results.json is copied.

When the forward is configured but cannot connect, fails, or is later than its deadline, or the
course announces a GPU regrade (`[assignment] gpu_regrade` in the table), the CPU stand-in's result
stays and is labelled provisional (in its output and in `extra_data.provisional`); the after-deadline
regrade (`grader batch --slurm --profile full`) replaces it. With neither, nothing promises a regrade:
the test says what it checked on the stand-in, and that is its result.

forward.toml: `host`, `user`, optional `port` (22) and `deadline` (seconds, counted from the start of
grading), checked when the zip is built and when it is read; the private key `id_ed25519` and
`known_hosts` sit beside it (`python -m grader.cluster.forward_keys` makes all three). `make
autograder` with A2_FORWARD_DIR set packs those three files into the zip (forward/); setup.sh moves
them to FORWARD_DIR, root-only, and removes them from the source folder.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import FAILED, PASSED, TEST_STATUSES
from grader.intake.discover import discover
from grader.results import CheckOutcome, test_entry, write_results
from grader.section_resources import section_resources
from grader.table import load_table

FORWARD_DIR = Path("/etc/a2grader/forward")
CONFIG_FILE = "forward.toml"
KEY_FILE = "id_ed25519"
KNOWN_HOSTS_FILE = "known_hosts"
PACKAGED_FILES = (CONFIG_FILE, KEY_FILE, KNOWN_HOSTS_FILE)
SOURCE_VARIABLE = "A2_FORWARD_DIR"
DEFAULT_DEADLINE = 1500.0
CONNECT_SECONDS = 20
REPLY_LIMIT = 1024 * 1024
MESSAGE_LIMIT = 20_000
# A host or user name as ssh takes it, and nothing it would read as an option.
SSH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@%:-]*")
CONFIG_KEYS = {"host", "user", "port", "deadline"}
FORWARDED_NOTE = "Graded on the course's GPU cluster: {graded_on}."
PROVISIONAL_NOTE = (
    "Provisional: this result comes from the CPU stand-in, a smaller run than the real one. The course "
    "staff regrade it on the GPU after the deadline, and that result replaces this one."
)


class ForwardConfigError(ValueError):
    """forward.toml (or the files beside it) cannot configure a forward; the message names the key."""


@dataclass(frozen=True)
class ForwardConfig:
    host: str
    user: str
    port: int
    identity: Path
    known_hosts: Path
    deadline: float


def load_config(folder: Path = FORWARD_DIR) -> ForwardConfig | None:
    """The forward's settings, or None when this image has none; raises ForwardConfigError naming
    what is wrong (a missing or unknown key, a value of the wrong kind, a missing key file)."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ForwardConfigError(f"{path}: {error}") from None
    unknown = sorted(set(raw) - CONFIG_KEYS)
    if unknown:
        raise ForwardConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(CONFIG_KEYS))})"
        )
    for key in ("host", "user"):
        value = raw.get(key)
        if not isinstance(value, str) or not SSH_NAME.fullmatch(value):
            raise ForwardConfigError(f'{path}: `{key}` must be the cluster\'s {key} name, e.g. {key} = "…"')
    port = raw.get("port", 22)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ForwardConfigError(f"{path}: `port` must be a TCP port number, not {port!r}")
    deadline = raw.get("deadline", DEFAULT_DEADLINE)
    if not isinstance(deadline, int | float) or isinstance(deadline, bool) or not 0 < deadline < math.inf:
        raise ForwardConfigError(f"{path}: `deadline` must be a number of seconds, not {deadline!r}")
    for name in (KEY_FILE, KNOWN_HOSTS_FILE):
        if not (folder / name).is_file():
            raise ForwardConfigError(
                f"{folder / name} is missing (python -m grader.cluster.forward_keys makes it)"
            )
    return ForwardConfig(
        host=raw["host"],
        user=raw["user"],
        port=port,
        identity=folder / KEY_FILE,
        known_hosts=folder / KNOWN_HOSTS_FILE,
        deadline=float(deadline),
    )


def packaged_files() -> dict[str, Path]:
    """The zip entries of the forward's configuration (`forward/<file>`), from $A2_FORWARD_DIR when
    it is set; raises ForwardConfigError saying what is missing or wrong."""
    source = os.environ.get(SOURCE_VARIABLE)
    if not source:
        return {}
    if load_config(Path(source)) is None:
        raise ForwardConfigError(f"{SOURCE_VARIABLE}={source} holds no {CONFIG_FILE}")
    return {f"forward/{name}": Path(source) / name for name in PACKAGED_FILES}


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

    def __init__(self, config: ForwardConfig, upload_path: Path, relative: str) -> None:
        self.config = config
        self.started = time.monotonic()
        # The upload's path in the submission, which the local run must name as the file it graded.
        self.relative = relative
        kind = "ipynb" if upload_path.suffix.lower() == ".ipynb" else "py"
        with upload_path.open("rb") as upload:
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
            return None, f"the cluster refused: {str(reply['error'])[:MESSAGE_LIMIT]}"
        return reply, ""


@dataclass(frozen=True)
class ForwardStart:
    """How the forward began: the one in flight (or None), whether this image is configured for one,
    and a line for the staff output."""

    forward: Forward | None
    configured: bool
    log: str


def valid_accuracy(value: Any) -> float | None:
    """An accuracy: None, or a number in [0, 1]; anything else raises ValueError."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise ValueError(f"the reply's accuracy {value!r} is not a number in [0, 1]")
    return float(value)


def forwarded_entry(reply: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The forwarded test's entry and the leaderboard, rebuilt from the reply's validated fields and our
    own table: the status and message (capped), and the accuracy, which alone makes the leaderboard
    entry (only from a profile whose resources are not a stand-in). Raises ValueError for a malformed
    reply."""
    table = load_table()
    status, message, profile = reply.get("status"), reply.get("message"), reply.get("profile")
    if status not in TEST_STATUSES:
        raise ValueError(f"the reply's status {str(status)[:80]!r} is not a test status")
    if not isinstance(message, str):
        raise ValueError("the reply has no message")
    if not isinstance(profile, str) or profile not in table.profiles:
        raise ValueError(f"the reply names no profile of the table ({str(profile)[:80]!r})")
    accuracy = valid_accuracy(reply.get("accuracy"))
    row, section = table.forwarded()
    resources = section_resources(section)
    graded_on = resources.graded_on(table.profiles[profile]) if resources else f"the {profile} profile"
    text = f"{FORWARDED_NOTE.format(graded_on=graded_on)}\n\n{message[:MESSAGE_LIMIT]}".strip()
    entry = test_entry(row, CheckOutcome(status == PASSED, text, status=status))
    real = resources is None or not resources.is_stand_in(table.profiles[profile])
    name = table.assignment.leaderboard
    board = (
        [{"name": name, "value": round(accuracy, 4), "order": "desc"}]
        if name and real and accuracy is not None
        else []
    )
    return entry, board


def _graded_file(results: dict[str, Any], notebook: str) -> str | None:
    files = results.get("extra_data", {}).get("graded_files", {})
    return files.get(notebook) if isinstance(files, dict) else None


def settle(
    results_path: Path, reply: dict[str, Any] | None, reason: str, regrade_promised: bool, forwarded: str = ""
) -> str:
    """Puts the cluster's result of the forwarded test into results.json (when it graded the file
    `forwarded`, the one the local run graded), or labels the CPU stand-in's provisional when a GPU
    regrade is promised. Returns a line for the staff output."""
    results = json.loads(results_path.read_text(encoding="utf-8"))
    row, section = load_table().forwarded()
    number = row.number
    index = next((i for i, t in enumerate(results["tests"]) if t.get("number") == number), None)
    if index is None:
        return f"{number} was not graded: nothing to settle"
    if results["tests"][index].get("extra_data", {}).get("status") not in (PASSED, FAILED):
        return f"{number} has no accuracy to settle (no file, or the code could not run)"
    graded = _graded_file(results, section.file)
    if reply is not None and graded != forwarded:
        reply, reason = None, f"the cluster graded {forwarded!r} but this run graded {graded!r}"
    if reply is not None:
        try:
            results["tests"][index], board = forwarded_entry(reply)
            if board:
                results["leaderboard"] = board
            log = f"{number} graded on the GPU cluster"
        except ValueError as error:
            reply, reason = None, str(error)
    if reply is None and regrade_promised:
        entry = results["tests"][index]
        entry["output"] = f"{PROVISIONAL_NOTE}\n\n{entry.get('output', '')}".strip()
        entry.setdefault("extra_data", {})["provisional"] = True
        log = f"{number} is the provisional CPU result, to be regraded on the GPU: {reason}"
    elif reply is None:
        log = f"{number} stays the CPU stand-in's check (no GPU regrade is announced): {reason}"
    results["score"] = round(sum(test["score"] for test in results["tests"]), 4)
    write_results(results_path, results)
    return log


def start_forward(submission_dir: Path, folder: Path = FORWARD_DIR) -> ForwardStart:
    """Starts the forward of the submission's file for the forwarded test's section (the file the
    grader's discovery picks, as the local run does) when this image is configured for one."""
    table = load_table()
    if not table.assignment.forwarded_test:
        return ForwardStart(None, False, "the assignment names no forwarded test: nothing to forward")
    row, section = table.forwarded()
    on_cpu = f"{row.number} stays on the CPU"
    try:
        config = load_config(folder)
    except ForwardConfigError as error:
        return ForwardStart(None, True, f"the forward is misconfigured ({error}): {on_cpu}")
    if config is None:
        return ForwardStart(None, False, f"no forward configured: {on_cpu}")
    found = discover(submission_dir, [section.file], table.answers_by_file())[section.file].path
    if found is None:
        return ForwardStart(None, True, f"no {section.file} file: nothing to forward")
    relative = found.relative_to(submission_dir).as_posix()
    try:
        return ForwardStart(
            Forward(config, found, relative), True, f"forwarding {relative} to the GPU cluster"
        )
    except OSError as error:
        return ForwardStart(None, True, f"the forward could not start ({error}): {on_cpu}")


def finish_forward(started: ForwardStart, results_path: Path) -> str:
    """Waits for the forward (until its deadline) and settles its test; returns a line for the staff.
    A GPU regrade is promised when a forward is configured or the course announces one."""
    forward = started.forward
    reply, why = forward.reply() if forward is not None else (None, started.log)
    promised = started.configured or load_table().assignment.gpu_regrade
    return settle(results_path, reply, why, promised, forward.relative if forward is not None else "")
