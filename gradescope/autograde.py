"""What run_autograder does once the image's files are locked down: pick the profile, grade, report.

Gradescope (or `docker run` on a GPU host) starts run_autograder as root; this module then
- reads submission_metadata.json for the log (submission id, submitters), when it is there;
- grades on the `full` profile when CUDA is usable, and otherwise on the `offline` profile, saying so
  plainly at the top of results.json (naming the sections it graded on stand-ins), so nobody mistakes
  a CPU stand-in for the real model and data;
- opens to the student's process, which run_autograder locked out of everything, the profile's
  model folder (never the data and its labels); the grader stages its own copy of the modules the
  student's process imports (grader/sandbox/staging.py);
- runs `python -m grader grade` in its own process, which drops privileges for the student's code;
- prints for instructors, on standard output, what happened: this module's steps, then a summary
  (course, profile, score, confinement, every internal error with its traceback), the score table
  and the grader's log condensed to one line a record (grader.commands.staff_output; the full log is
  results/grader.log). Gradescope's harness captures standard output into results/stdout, which it
  owns and which this code never writes; students do not see it (`stdout_visibility: hidden`).
The grader rewrites results.json after every test. If it was stopped, the finished tests keep their
scores and the note says why the rest were not graded; if it left no valid file at all, this module
writes one that lists every test as failed with the reason, so Gradescope never shows an empty page.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from grader.cluster.forward import finish_forward, start_forward
from grader.commands.staff_output import staff_report
from grader.errors import StaffSetupFailure
from grader.packaged_course import apply_packaged_course
from grader.results import build_results, results_are_valid, write_results
from grader.score_table import score_table
from grader.section_resources import declared_resources
from grader.table import TABLE_PATH, TableError, load_table

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = Path("/autograder")
# Permission bits run_autograder removed and this module gives back where the student's process needs them.
OPEN_FILE = 0o044
OPEN_FOLDER = 0o055
# Where the profiles' models live (run_autograder sets both).
CACHE_VARIABLES = ("A2_ASSETS_DIR", "HF_HOME")
# Gradescope's largest timeout (the README asks instructors to choose it), and the grader's own stop,
# early enough that the finished results.json is in place before Gradescope's harness gives up.
GRADESCOPE_TIMEOUT = 40 * 60
GRADER_TIMEOUT = GRADESCOPE_TIMEOUT - 120
GPU_PROFILE = "full"
CPU_PROFILE = "offline"
# The note's first sentence; no_gpu_note adds the sections that the profile graded on stand-ins.
NO_GPU_NOTE = "No GPU was available to this grading run, so it was graded on the offline profile."
GRADER_STOPPED = (
    "The autograder was stopped before it finished: {outcome}. This is not a verdict on your code; "
    "your instructors can see what happened."
)
GRADER_FAILED = (
    "The autograder could not finish grading this submission (this is not a verdict on your code). "
    "Your instructors can see what happened; please contact them."
)


def log(message: str) -> None:
    """One line on standard output, which Gradescope keeps for instructors."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def describe_submission(metadata_path: Path) -> str:
    """`submission <id> by <names>` from Gradescope's metadata, or why it is unknown."""
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "submission (no submission_metadata.json)"
    except (OSError, ValueError) as error:
        return f"submission (submission_metadata.json unreadable: {error})"
    users = metadata.get("users") or []
    names = ", ".join(str(user.get("name") or user.get("email") or "?") for user in users)
    return f"submission {metadata.get('id', '?')} by {names or 'unknown'}"


def cuda_usable() -> bool:
    """Whether torch in this image can use a GPU (asked in a child, so a broken driver cannot hang us)."""
    probe = [sys.executable, "-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"]
    try:
        return subprocess.run(probe, timeout=120, check=False, capture_output=True).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def open_to_sandbox(path: Path, top: Path) -> None:
    """Lets every user read `path` (a file, or a folder and all it holds, links followed) and list the
    folders between `top` and it. Everything else under `top` stays as run_autograder left it:
    readable by root only."""
    top = top.resolve()
    items = [path, *path.rglob("*")] if path.is_dir() else [path]
    for item in items:
        real = item.resolve()
        real.chmod(real.stat().st_mode | (OPEN_FOLDER if real.is_dir() else OPEN_FILE))
        for parent in real.parents:
            if parent != top and top not in parent.parents:
                break
            parent.chmod(parent.stat().st_mode | OPEN_FOLDER)


def open_profile_model(profile_name: str) -> None:
    """Opens the model folders the sections' resources declare (the student's process loads them; their
    data stays closed)."""
    table = load_table()
    profile = table.profile(profile_name)
    caches = [Path(os.environ[name]).resolve() for name in CACHE_VARIABLES if name in os.environ]
    for number, resources in declared_resources(table).items():
        try:
            model_dir = resources.model_folder(profile)
        except (StaffSetupFailure, OSError) as missing:
            log(f"section {number}'s model is not available, its tests will fail: {missing}")
            continue
        top = next((cache for cache in caches if cache in model_dir.parents), model_dir)
        open_to_sandbox(model_dir, top)


def no_gpu_note(profile_name: str) -> str:
    """NO_GPU_NOTE, then which sections the profile graded on stand-ins (their resources say so, and the
    run's summary says in their words what each graded on)."""
    try:
        table = load_table()
        profile = table.profile(profile_name)
        found = declared_resources(table).items()
        numbers = [str(number) for number, resources in found if resources.is_stand_in(profile)]
    except (TableError, StaffSetupFailure, OSError) as error:
        log(f"the note on the {profile_name!r} profile names no section: {error}")
        numbers = []
    if not numbers:
        return NO_GPU_NOTE
    if len(numbers) == 1:
        sections = f"Section {numbers[0]} was"
    else:
        sections = f"Sections {', '.join(numbers[:-1])} and {numbers[-1]} were"
    return f"{NO_GPU_NOTE} {sections} graded on small stand-ins for the model and data a GPU run uses."


def write_fallback_results(results_path: Path, reason: str) -> None:
    """A valid results.json for a run whose grader wrote none: every test listed, failed, with why."""
    failed = build_results(
        list(load_table().tests), {}, f"{GRADER_FAILED}\n\n{reason}", 0, missing_reason=GRADER_FAILED
    )
    write_results(results_path, failed)


def add_top_note(results_path: Path, note: str) -> None:
    """Puts `note` first in the results' top-level output."""
    results = json.loads(results_path.read_text(encoding="utf-8"))
    results["output"] = f"{note}\n\n{results.get('output') or ''}".strip()
    write_results(results_path, results)


def grade_into_results(root: Path, sandbox_user: str, grader_timeout: float | None) -> int:
    """Grades root/submission into root/results/results.json; returns 0 once that file is written."""
    results_dir = root / "results"
    results_path = results_dir / "results.json"
    results_path.unlink(missing_ok=True)
    log(describe_submission(root / "submission_metadata.json"))
    course = apply_packaged_course(PACKAGE_ROOT)
    log(f"the table: {TABLE_PATH}{f' with the overlay of course {course}' if course else ''}")
    try:
        load_table()
    except Exception as error:
        log(f"the assignment table {TABLE_PATH} cannot be loaded, so nothing can be graded: {error!r}")
        raise
    has_gpu = cuda_usable()
    profile = GPU_PROFILE if has_gpu else CPU_PROFILE
    log(f"CUDA {'is' if has_gpu else 'is not'} available: grading on the {profile!r} profile")
    open_profile_model(profile)
    forward = start_forward(root / "submission") if not has_gpu else None
    if forward is not None:
        log(forward.log)
    log_path = results_dir / "grader.log"
    command = [sys.executable, "-m", "grader", "grade", str(root / "submission")]
    command += ["--results", str(results_path), "--profile", profile, "--sandbox-user", sandbox_user]
    command += ["--log", str(log_path), "--quiet"]
    log(f"running: {' '.join(command)}")
    sys.stdout.flush()
    # Whatever the grader prints (only a failure of its own, with --quiet) goes straight to our standard
    # output; its log is condensed for the staff below.
    process = subprocess.Popen(command, cwd=PACKAGE_ROOT, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        status = process.wait(timeout=grader_timeout)
        outcome = f"the grader exited with status {status}"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        status = process.wait()
        outcome = f"the grader did not finish within {grader_timeout:g} s and was stopped"
    log(outcome)
    if not results_are_valid(results_path):
        log("no valid results.json was written: writing one that fails every test")
        write_fallback_results(results_path, outcome)
        return 0
    if status != 0:
        add_top_note(results_path, GRADER_STOPPED.format(outcome=outcome))
    if forward is not None:
        log(finish_forward(forward, results_path))
        add_top_note(results_path, no_gpu_note(profile))
    report_to_staff(results_path, log_path)
    return 0


def report_to_staff(results_path: Path, log_path: Path) -> None:
    """The staff's summary, the score table and the condensed log, on standard output."""
    results = json.loads(results_path.read_text(encoding="utf-8"))
    try:
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        log_text = ""
    print(staff_report(results, log_text, str(log_path), score_table(results)), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Grade the submission in a Gradescope-style folder.")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the autograder folder")
    parser.add_argument("--sandbox-user", default="auto", help="user the student's code runs as")
    parser.add_argument(
        "--timeout",
        type=float,
        default=GRADER_TIMEOUT,
        help=f"seconds before the grader is stopped (default {GRADER_TIMEOUT}: Gradescope's 40-minute limit "
        "less two minutes)",
    )
    args = parser.parse_args(argv)
    sys.exit(grade_into_results(args.root, args.sandbox_user, args.timeout))


if __name__ == "__main__":
    main()
