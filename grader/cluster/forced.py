"""The cluster's end of the live forward: the one command an ssh key may run (no shell).

The course's cluster account lists the Gradescope image's public key in `authorized_keys` as

    command="PYTHON -m grader.cluster.forced --config CONFIG",restrict ssh-ed25519 AAAA… a2-gradescope

(PYTHON: the grader's interpreter on the cluster; CONFIG: this command's TOML file). That key can then do
nothing but this: read one notebook file from stdin (the forwarded test's section's: size-capped, text, a
notebook's JSON when it says it is one; ssh's requested command may only be `py` or `ipynb`), grade the
table's `forwarded_test` on it through Slurm, with the configured profile (`full` on a GPU node) in the same
sandbox as `grader grade`, and print one JSON line: {"profile", "status", "message", "accuracy"} read from
the validated results.json, or {"error": "..."} with exit status 1.

It grades only where the student's code is confined as `grader grade` confines it as root: on an
account that is root (each section then runs as its own unprivileged uid, in namespaces where the
kernel allows), or inside the grading image (`grader_command`, e.g. through apptainer). On any other
account the student's code would run as the account itself, able to read this configuration, the
other uploads in flight and the results file its run writes; the command then refuses, and says
why, which run_autograder prints for the staff. The work folder of each upload is removed afterwards
whatever modes the student's code left on it.

The configuration (TOML, readable by the account only): `profile` ("full"), `work_dir` (on storage
the GPU nodes mount), optional `partition`, `gres` ("gpu:1"), `slurm_conf`, `grader_command`
(e.g. the grading image through apptainer), `max_bytes` and `timeout` (seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import tomllib
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from grader.batch.pool import PACKAGE_ROOT
from grader.cluster.forward import valid_accuracy
from grader.results import validate
from grader.sandbox.cleanup import remove_tree
from grader.table import TableError, load_table

FORMATS = ("py", "ipynb")
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_TIMEOUT = 1500.0


NOT_CONFINED = (
    "the cluster account is not root, so the student's code would run as the account itself, able to "
    "read the forward's configuration and rewrite its own results; set `grader_command` in {config} to "
    "grade inside the grading image (e.g. apptainer exec --nv … a2.sif python -m grader), or run this "
    "command as root"
)


class RequestRefused(Exception):
    """The request is not one this command serves; the message says why (it goes back to the caller)."""


def confinement_problem(config: dict[str, Any], config_path: Path) -> str:
    """Why this account cannot grade confined ("" when it can: root, or the grading image)."""
    if config.get("grader_command") or os.geteuid() == 0:
        return ""
    return NOT_CONFINED.format(config=config_path)


def read_capped(stream: BinaryIO, max_bytes: int) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RequestRefused(f"the file is larger than {max_bytes} bytes")
    return data


def validate_upload(data: bytes, kind: str) -> str:
    """The upload as text, if it can be an exported notebook of the kind named."""
    if kind not in FORMATS:
        raise RequestRefused(f"the requested command must be one of {', '.join(FORMATS)}")
    if not data.strip():
        raise RequestRefused("the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRefused("the file is not UTF-8 text") from None
    if "\x00" in text:
        raise RequestRefused("the file holds NUL bytes")
    if kind == "ipynb":
        try:
            notebook = json.loads(text)
        except ValueError:
            raise RequestRefused("the notebook is not JSON") from None
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise RequestRefused("the notebook has no list of cells")
    return text


def slurm_environment(config: dict[str, Any]) -> dict[str, str]:
    environment = dict(os.environ)
    if config.get("slurm_conf"):
        environment["SLURM_CONF"] = str(config["slurm_conf"])
    return environment


def grade_on_slurm(submission: Path, results: Path, config: dict[str, Any], number: str) -> None:
    """Runs `grader grade --tests NUMBER` (the forwarded test) on `submission` as one Slurm job and waits."""
    grader = shlex.split(config.get("grader_command", "")) or [sys.executable, "-m", "grader"]
    grade = [*grader, "grade", str(submission), "--results", str(results), "--quiet"]
    grade += ["--tests", number, "--profile", str(config.get("profile", "full"))]
    timeout = float(config.get("timeout", DEFAULT_TIMEOUT))
    name = f"a2-forward-{uuid.uuid4().hex[:12]}"
    command = ["sbatch", "--wait", "--quiet", f"--job-name={name}", f"--chdir={PACKAGE_ROOT}", "--ntasks=1"]
    command += [f"--time={int(timeout // 60) + 1}", f"--output={results.parent / 'job.log'}"]
    command += [f"--{key}={config[key]}" for key in ("partition", "gres") if config.get(key)]
    command += ["--wrap", shlex.join(grade)]
    environment = slurm_environment(config)
    try:
        subprocess.run(command, env=environment, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        subprocess.run(["scancel", f"--name={name}"], env=environment, capture_output=True, check=False)
        raise RequestRefused(f"the cluster did not finish within {timeout:g} s") from None


def _accuracy(board: Any, name: str) -> float | None:
    """The accuracy the grader posted on the leaderboard under `name`, when it posted a valid one."""
    for entry in board if isinstance(board, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            try:
                return valid_accuracy(entry.get("value"))
            except ValueError:
                return None
    return None


def threshold_reply(results: Path, profile: str, number: str, leaderboard: str) -> dict[str, Any]:
    """The reply for a results.json the grader wrote: test `number`'s status and message, and the
    accuracy it posted on the `leaderboard`."""
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
        validate(data)
    except (OSError, ValueError) as error:
        raise RequestRefused(f"the grading job wrote no valid results ({error})") from None
    entry = next((test for test in data["tests"] if test.get("number") == number), None)
    if entry is None:
        raise RequestRefused("the grading job's results lack the threshold test")
    status = entry.get("extra_data", {}).get("status") or entry["status"]
    accuracy = _accuracy(data.get("leaderboard"), leaderboard)
    return {"profile": profile, "status": status, "message": entry.get("output", ""), "accuracy": accuracy}


def _reopen(folder: Path) -> None:
    try:
        if folder.is_dir() and not folder.is_symlink():
            folder.chmod(0o700)
    except OSError:
        pass  # remove_tree then reports what it could not remove


def remove_work(work: Path) -> list[str]:
    """Removes an upload's work folder whatever modes were left on it (each folder, made read-only
    or unreadable, is opened again before it is listed); returns what could not be removed."""
    _reopen(work)
    for folder, subfolders, _ in os.walk(work):
        for name in subfolders:
            _reopen(Path(folder) / name)
    return remove_tree(work)


def serve(stream: BinaryIO, kind: str, config: dict[str, Any], config_path: Path) -> dict[str, Any]:
    """Reads, validates and grades one upload; returns the reply."""
    refused = confinement_problem(config, config_path)
    if refused:
        raise RequestRefused(refused)
    text = validate_upload(read_capped(stream, int(config.get("max_bytes", DEFAULT_MAX_BYTES))), kind)
    table = load_table()
    row, section = table.forwarded()
    work_root = Path(config.get("work_dir") or tempfile.gettempdir())
    work_root.mkdir(parents=True, exist_ok=True)
    # mkdtemp's folder is the account's alone (0700): the upload and its results stay out of reach of
    # the sandbox user that runs the student's code.
    work = Path(tempfile.mkdtemp(prefix="a2-forward-", dir=work_root))
    try:
        submission = work / "submission"
        submission.mkdir()
        (submission / f"{section.file}.{kind}").write_text(text, encoding="utf-8")
        grade_on_slurm(submission, work / "results.json", config, row.number)
        profile = str(config.get("profile", "full"))
        return threshold_reply(work / "results.json", profile, row.number, table.assignment.leaderboard)
    finally:
        problems = remove_work(work)
        if problems:
            print(f"a2-forward: could not remove {work}: {'; '.join(problems[:3])}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, required=True, help="the forward's TOML configuration")
    args = parser.parse_args(argv)
    kind = os.environ.get("SSH_ORIGINAL_COMMAND", "").strip()
    try:
        config = tomllib.loads(args.config.read_text(encoding="utf-8"))
        reply = serve(sys.stdin.buffer, kind, config, args.config)
    except RequestRefused as refused:
        print(json.dumps({"error": str(refused)}), flush=True)
        return 1
    except (OSError, tomllib.TOMLDecodeError, TableError) as error:
        print(json.dumps({"error": f"the forward is misconfigured on the cluster ({error})"}), flush=True)
        return 1
    print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
