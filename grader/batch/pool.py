"""Grades many submissions, each in its own `python -m grader grade` process, several at a time.

A separate grader process per submission means one submission's crash, hang or memory blow-up can
cost only that submission. Each run has a wall-clock limit; past it the run's whole process group is
killed and the submission is marked `timeout`. A run that ended on its own is judged by what it
wrote, not by its exit status: a valid results.json is a grade (`ok`), whatever the exit status; no
valid results.json is an `error` (ours). A submission is finished once its `outcome.json` is written
(last, atomically), so an interrupted batch resumes where it stopped; which finished submissions a
rerun grades again is decided from their grades (grader.batch.grades.split_finished).
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from grader.batch.discovery import Submission
from grader.intake.discover import candidates
from grader.results import results_are_valid
from grader.table import AssignmentTable, load_table

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
RESULTS_FILE = "results.json"
OUTCOME_FILE = "outcome.json"
CONSOLE_FILE = "console.log"
INSTRUCTOR_LOG = "grader.log"
STATUSES = ("ok", "timeout", "error")
# How a submission is graded unless --grader-command says otherwise (e.g. in the grading image).
GRADER_COMMAND = (sys.executable, "-m", "grader")
# Slack on top of the table's own limits before a whole grading run counts as hung.
RUN_SLACK_SECONDS = 60.0
CONSOLE_TAIL_CHARS = 400
PR_SET_CHILD_SUBREAPER = 36
# How long a grader run may take to clean up after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 15.0
# Orphans of orphans are adopted one generation at a time.
REAP_ROUNDS = 20
# `grader preflight` loads the §3 model and data once; a cold cache on network storage is slow.
PREFLIGHT_SECONDS = 900.0


@dataclass(frozen=True)
class BatchOptions:
    """How each submission is graded; `sections` None means all of them; `grader_command` replaces
    GRADER_COMMAND (the interpreter and `-m grader`), e.g. to grade inside the grading image."""

    profile: str
    jobs: int
    timeout: float
    sections: tuple[int, ...] | None = None
    sandbox_user: str | None = None
    grader_command: tuple[str, ...] = ()
    course: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    """How grading one submission ended (`status` is one of STATUSES)."""

    id: str
    status: str
    seconds: float
    message: str = ""


def default_timeout(table: AssignmentTable, sections: Iterable[int] | None) -> float:
    """An upper bound on a sound grading run: every selected test and section load at its limit."""
    chosen = set(sections) if sections is not None else None
    rows = table.select(chosen)
    loads = len({row.section for row in rows}) * table.sandbox.load_timeout
    return sum(row.timeout for row in rows) + loads + RUN_SLACK_SECONDS


def submission_dir(out_dir: Path, submission: Submission) -> Path:
    return out_dir / "submissions" / submission.id


def read_outcome(folder: Path) -> RunOutcome | None:
    """The recorded outcome of a finished submission, or None if it has not finished."""
    try:
        return RunOutcome(**json.loads((folder / OUTCOME_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_outcome(folder: Path, outcome: RunOutcome) -> None:
    partial = folder / f".{OUTCOME_FILE}.partial"
    partial.write_text(json.dumps(asdict(outcome), indent=2), encoding="utf-8")
    partial.replace(folder / OUTCOME_FILE)


def grade_command(submission: Submission, folder: Path, options: BatchOptions) -> list[str]:
    command = [*(options.grader_command or GRADER_COMMAND), "grade", str(submission.folder)]
    command += ["--results", str(folder / RESULTS_FILE), "--log", str(folder / INSTRUCTOR_LOG)]
    command += ["--profile", options.profile]
    if options.course:
        command += ["--course", options.course]
    if options.sections is not None:
        command += ["--sections", ",".join(str(number) for number in options.sections)]
    if options.sandbox_user:
        command += ["--sandbox-user", options.sandbox_user]
    return command


def preflight(options: BatchOptions, check_gpu: bool = True) -> str:
    """Runs `grader preflight` exactly where and how the submissions will be graded (the same grader
    command); returns what keeps it from grading, with the fix, or "" when nothing does."""
    command = [*(options.grader_command or GRADER_COMMAND), "preflight", "--profile", options.profile]
    if options.course:
        command += ["--course", options.course]
    if options.sections is not None:
        command += ["--sections", ",".join(str(number) for number in options.sections)]
    if not check_gpu:
        command.append("--no-gpu-check")
    try:
        finished = subprocess.run(
            command,
            cwd=PACKAGE_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PREFLIGHT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`{shlex.join(command)}` could not run: {error}"
    if finished.returncode == 0:
        return ""
    said = (finished.stdout + finished.stderr).strip()
    return said or f"`{shlex.join(command)}` exited with status {finished.returncode}"


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return text[-CONSOLE_TAIL_CHARS:]


class BatchRunner:
    """Runs the grader processes and remembers the live ones, so an interruption can stop them all."""

    def __init__(self, out_dir: Path, options: BatchOptions) -> None:
        self.out_dir = out_dir
        self.options = options
        self._live: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def grade_one(self, submission: Submission) -> RunOutcome:
        """Grades one submission in a fresh grader process and records how it ended."""
        folder = submission_dir(self.out_dir, submission)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in (RESULTS_FILE, OUTCOME_FILE):
            (folder / stale).unlink(missing_ok=True)
        started = time.monotonic()
        with (folder / CONSOLE_FILE).open("wb") as console:
            with self._lock:
                if self._stopping.is_set():
                    raise KeyboardInterrupt
                process = subprocess.Popen(
                    grade_command(submission, folder, self.options),
                    cwd=PACKAGE_ROOT,
                    env=share_of_the_cores(self.options.jobs),
                    stdin=subprocess.DEVNULL,
                    stdout=console,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                self._live.add(process)
            try:
                returncode: int | None = process.wait(timeout=self.options.timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                returncode = None
            finally:
                with self._lock:
                    self._live.discard(process)
        if returncode is None:
            self.reap_orphans()
        if self._stopping.is_set():
            raise KeyboardInterrupt
        outcome = self._judge(submission, folder, returncode, time.monotonic() - started)
        write_outcome(folder, outcome)
        return outcome

    def _judge(
        self, submission: Submission, folder: Path, returncode: int | None, seconds: float
    ) -> RunOutcome:
        seconds = round(seconds, 1)
        if returncode is None:
            message = f"grading did not finish within {self.options.timeout:g} s and was stopped"
            return RunOutcome(submission.id, "timeout", seconds, message)
        if results_are_valid(folder / RESULTS_FILE):
            exited = f"the grader exited with status {returncode} after writing its results"
            return RunOutcome(submission.id, "ok", seconds, exited if returncode else "")
        detail = _tail(folder / CONSOLE_FILE) or "no output"
        message = f"the grader exited with status {returncode} without a valid results.json: {detail}"
        return RunOutcome(submission.id, "error", seconds, message)

    def reap_orphans(self) -> None:
        """Kills the processes a killed grader left behind (adopted by us, see become_subreaper)."""
        for _ in range(REAP_ROUNDS):
            with self._lock:  # held while scanning, so a grader being started is never taken for an orphan
                graders = {process.pid for process in self._live}
                orphans = [pid for pid in children_of(os.getpid()) if pid not in graders]
            if not orphans:
                return
            for pid in orphans:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass

    def stop_all(self) -> None:
        """Kills every running grader process (on Ctrl-C); finished submissions stay finished."""
        self._stopping.set()
        with self._lock:
            graders = list(self._live)
        for process in graders:
            _kill_group(process)
        self.reap_orphans()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a grader run: SIGTERM first, so it ends its sandboxed children and removes what they left
    (by uid, which only it knows), then SIGKILL whatever is still there."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def share_of_the_cores(jobs: int) -> dict[str, str]:
    """The environment of one grader run among `jobs` at once: torch in it (and in its sandboxed
    children) uses no more threads than its share of the cores, so the runs never fight over them.
    An OMP_NUM_THREADS the instructor set wins."""
    share = max(1, len(os.sched_getaffinity(0)) // jobs)
    return {"OMP_NUM_THREADS": str(share), **os.environ}


def costliest_first(submissions: list[Submission], table: AssignmentTable) -> list[Submission]:
    """The submissions holding the notebook whose tests may take longest (§3's threshold run) first,
    the rest after, each group in its order: the quick ones graded last keep every job busy until
    the end, instead of one long run finishing alone."""
    longest = max(table.sections, key=lambda n: sum(row.timeout for row in table.tests if row.section == n))
    stem = table.sections[longest].file
    return sorted(submissions, key=lambda submission: not candidates(submission.folder, stem))


def become_subreaper() -> None:
    """Makes this process adopt the orphans of its descendants (Linux), so that a killed grader's
    sandboxed children, which run in sessions of their own, can still be found and ended."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def children_of(parent: int) -> list[int]:
    """Process ids whose parent is `parent`."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            children.append(int(entry.name))
    return children


def run_batch(pending: list[Submission], out_dir: Path, options: BatchOptions) -> dict[str, RunOutcome]:
    """Grades `pending`; returns each one's outcome."""
    outcomes: dict[str, RunOutcome] = {}
    if not pending:
        return outcomes
    become_subreaper()
    runner = BatchRunner(out_dir, options)
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        futures = [
            pool.submit(runner.grade_one, submission) for submission in costliest_first(pending, load_table())
        ]
        try:
            for future in tqdm(as_completed(futures), total=len(futures), desc="Grading", unit="submission"):
                outcome = future.result()
                outcomes[outcome.id] = outcome
        except KeyboardInterrupt:
            runner.stop_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return outcomes
