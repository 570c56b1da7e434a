"""A grading run's view of one submission: its files, and one sandboxed process per section.

Checks reach the student's code only through `StudentSection`. Each section's process is started on
first use and started again after a crash or a timeout, so one hostile function costs only the tests
that call it; a function that timed out once is not called again in the run (its later tests fail at
once with the same reason), so it costs one deadline. A section whose file is missing or cannot be
parsed, or whose top level cannot be loaded, fails every test that needs it with the same reason,
without retrying. Each section runs as its own sandbox uid and sees only the staged copy of our code
(grader/sandbox/staging.py); what confinement each child got is logged and kept in `confinement`.

Public and hidden tests never share a process (each visibility has its own), so nothing a hidden
call showed the student's code can reach a visible message. Every reply is checked against
``grader.replies`` before it is read; every answer read with ``get`` is fetched once per run and
kept, so a value that changes between reads is graded as it was first read. See grader/verdicts.py
for the rule the checks follow.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import json
import logging
import os
import secrets
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grader.errors import (
    NO_FILE,
    TIMEOUT,
    GradingFailure,
    MissingAnswer,
    NotImplementedYet,
    SectionUnavailable,
    StudentProcessDied,
    StudentRaised,
    StudentTimedOut,
)
from grader.intake.discover import Found, discover, names_notebook
from grader.intake.normalise import IntakeError, Normalised
from grader.intake.private_copy import PrivateCopy, RefusedFile, copy_submission
from grader.intake.sections import read_section
from grader.intake.slicer import Sliced
from grader.integrity import (
    FROM_SCRATCH_SECTION,
    Flag,
    IntegrityLog,
    Recording,
    failure_message,
    new_canary,
    review,
    verify_recording,
)
from grader.replies import UNUSABLE, UnusableReply, load_problem, reply_problem
from grader.sandbox import wire
from grader.sandbox.fork_server import ForkServer
from grader.sandbox.identity import Identity, IdentityError, choose_identity, unreachable_folders
from grader.sandbox.namespace import model_mount
from grader.sandbox.process import (
    REPO_ROOT,
    ChildGone,
    ChildTimeout,
    ChildView,
    SandboxLimits,
    StudentProcess,
    template_for,
)
from grader.sandbox.staging import Stage, hide_except, interpreter_paths
from grader.table import AssignmentTable, Profile

CHECKS_DIR = Path(__file__).with_name("checks")
# Replies that carry answers are small; only a driver's reply (trained weights) may be large.
LOAD_REPLY_BYTES = 1 << 20
ANSWER_REPLY_BYTES = 64 << 20
WEIGHT_FILES = ("*.safetensors", "*.bin")
#: How messages name the student's code run by one of our drivers (whose names mean nothing to them).
YOUR_CODE = "your code"
log = logging.getLogger("grader")


@dataclass
class CallReport:
    """What one call returned, the devices of its tensors, and (when asked) the verified recording."""

    value: Any
    devices: list[str] = field(default_factory=list)
    recording: Recording | None = None


class StudentSection:
    """The student's definitions for one notebook, loaded in a sandboxed child on demand."""

    def __init__(
        self,
        session: GradingSession,
        number: int,
        normalised: Normalised,
        sliced: Sliced,
        unreadable: dict[str, str] | None = None,
    ) -> None:
        self.session = session
        self.unreadable = unreadable or {}
        self.number = number
        self.normalised = normalised
        self.sliced = sliced
        self.filename = normalised.filename
        self._processes: dict[str, StudentProcess] = {}
        self._broken: SectionUnavailable | None = None
        self._snapshots: dict[str, Any] = {}
        self._timed_out: dict[str, float] = {}
        self.load_failures: list[dict[str, Any]] = []
        self.starts = 0
        self.findings = review(_kept_tree(sliced), number)
        session.integrity.add(
            Flag(number, "construct", finding.what, f"{self.filename}:{finding.line}")
            for finding in self.findings
        )

    def has(self, name: str) -> bool:
        """Whether the kept code binds `name` at top level."""
        return name in self._bound_names()

    def function_node(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        return self.sliced.functions.get(name)

    def _process_for(self, name: str) -> StudentProcess:
        if self._broken is not None:
            raise self._broken
        visibility = self.session.current_visibility()
        current = self._processes.get(visibility)
        if current is not None and current.alive:
            return current
        for other in [key for key in self._processes if key != visibility]:
            # Public tests are done (they run first): their process goes before the hidden one starts.
            self._stop_and_log(self._processes.pop(other))
        process = self.session.spawn(self.number)
        self.starts += 1
        units = [unit.__dict__ for unit in self.sliced.units]
        timeout = self.session.table.sandbox.load_timeout
        try:
            request_id = secrets.token_hex(8)
            header, _ = process.request(
                {"op": "load", "filename": self.filename, "units": units, "id": request_id},
                None,
                timeout,
                LOAD_REPLY_BYTES,
            )
        except ChildTimeout:
            self._broken = SectionUnavailable(
                f"Loading the definitions in {self.filename} took longer than {timeout:g} s, so none of its "
                "tests could run. The grader runs only imports, definitions and the top-level statements "
                "your answers depend on; one of those must be doing far more work than it should.",
                TIMEOUT,
            )
            self.session.log_output(self, process)
            raise self._broken from None
        except ChildGone as gone:
            self._broken = SectionUnavailable(
                f"The process loading {self.filename} {gone.how} before your definitions were loaded "
                "(code that calls exit, os._exit or uses too much memory at top level ends it)."
            )
            self.session.log_output(self, process)
            raise self._broken from None
        except wire.WireError as error:
            header = {"ok": None, "wire": str(error)}
        problem = load_problem(header) or (
            None if header.get("id") == request_id else "a reply to another request"
        )
        if problem is not None:
            process.kill()
            self._broken = SectionUnavailable(
                f"While {self.filename} was loading, {UNUSABLE} ({problem}), so none of its tests could run."
            )
            raise self._broken
        self.load_failures = header.get("failures", [])
        for failure in self.load_failures:
            log.info(
                "%s: %s raised %s: %s",
                self.filename,
                self._where(failure),
                failure["type"],
                failure["message"],
            )
        self._processes[visibility] = process
        return process

    def _where(self, info: dict[str, Any]) -> str:
        place = self.normalised.where(int(info["lineno"])) if info.get("lineno") else self.filename
        function = info.get("function")
        return f"{place}, in {function}" if function and function != "<module>" else place

    def _raise_for(self, error: dict[str, Any], name: str) -> None:
        kind = error.get("kind")
        if kind == "missing" and name in self.unreadable:
            raise SectionUnavailable(self.unreadable[name])
        if kind == "missing":
            cause = error.get("cause")
            if cause:
                detail = f"Its definition ({self._where(cause)}) raised {cause['type']}: {cause['message']}"
                raise MissingAnswer(name, self.filename, detail)
            close = difflib.get_close_matches(name, sorted(self._bound_names()), n=1, cutoff=0.75)
            raise MissingAnswer(name, self.filename, f"Did you mean `{close[0]}`?" if close else "")
        if kind == "not_implemented":
            raise NotImplementedYet(error.get("name") or name)
        if kind == "raised":
            # A driver of ours is no name of the student's: name their function that raised instead.
            who = error.get("function") or name if name == YOUR_CODE else name
            raise StudentRaised(who, error["type"], error["message"], self._where(error))
        if kind == "bad_value":
            raise UnusableReply(name, f"a value of a kind it cannot read: {error.get('message', '')}")
        raise UnusableReply(name, "an error of no known kind")

    def _bound_names(self) -> set[str]:
        return {name for unit in self.sliced.units for name in unit.binds}

    def _request(
        self, header: dict[str, Any], tensors: dict[str, torch.Tensor], name: str, timeout: float | None
    ):
        timeout = float(timeout or self.session.table.sandbox.call_timeout)
        # A student function that timed out once is not called again: later tests fail at once with
        # the same reason, so it costs one deadline per run. (Drivers are not remembered: one driver
        # runs different student functions for different tests.)
        if header["op"] == "call" and name in self._timed_out:
            raise StudentTimedOut(name, self._timed_out[name])
        process = self._process_for(name)
        header = {**header, "id": secrets.token_hex(8)}
        cap = self.session.driver_reply_bytes() if header["op"] == "run" else ANSWER_REPLY_BYTES
        try:
            reply, reply_tensors = process.request(header, tensors, timeout, cap)
        except ChildTimeout:
            self.session.log_output(self, process)
            if header["op"] == "call":
                self._timed_out[name] = timeout
            raise StudentTimedOut(name, timeout) from None
        except ChildGone as gone:
            self.session.log_output(self, process)
            raise StudentProcessDied(name, gone.how) from None
        except wire.WireError as error:
            raise UnusableReply(name, str(error)) from None
        if not isinstance(reply, dict) or reply.get("id") != header["id"]:
            # Only the grader's own code in the child knows the id: this reply was written by other code.
            self.session.integrity.add(
                [
                    Flag(
                        self.number,
                        "reply",
                        f"a reply to {name} not sent by the grader's code",
                        self.filename,
                    )
                ]
            )
            process.kill()
            raise UnusableReply(name, "a reply to another request")
        problem = reply_problem(reply)
        if problem is not None:
            process.kill()
            raise UnusableReply(name, problem)
        if not reply["ok"]:
            self._raise_for(reply["error"], name)
        try:
            value = wire.decode(reply.get("value"), reply_tensors)
        except wire.WireError as error:
            raise UnusableReply(name, str(error)) from None
        return reply, value

    def get(self, name: str, timeout: float | None = None) -> Any:
        """The value the submission's kept code binds to `name`, read once per run.

        The first read is kept (its failure too) and every later read returns it, so all checks grade
        the same value even if the student's process would give another one the second time.
        """
        if name not in self._snapshots:
            try:
                self._snapshots[name] = self._request({"op": "get", "name": name}, {}, name, timeout)[1]
            except GradingFailure as failure:
                self._snapshots[name] = failure
        kept = self._snapshots[name]
        if isinstance(kept, GradingFailure):
            raise kept
        return kept

    def call_detailed(
        self,
        name: str,
        *args: Any,
        device: str | None = None,
        timeout: float | None = None,
        seed: int | None = None,
        record: bool = False,
        cotangent: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> CallReport:
        """Call the student's function `name` in the sandbox; see docs/writing-checks.md.

        ``record``: record the forbidden attention that runs during the call (op_recorder.py), with a
        canary the trusted side chose; a lost canary counts as tampering and raises the integrity flag.
        ``cotangent``: also return the vector-Jacobian product for the tensor arguments, as
        ``{"output": value, "grads": [...]}`` (grader.verdicts.gradient_problem checks it).
        """
        (args_tree, kwargs_tree, cotangent_tree), tensors, _ = wire.encode([list(args), kwargs, cotangent])
        header = {
            "op": "call",
            "name": name,
            "args": args_tree,
            "kwargs": kwargs_tree,
            "device": device,
            "seed": self.session.seed_for_test() if seed is None else seed,
            "cotangent": cotangent_tree,
        }
        canary = new_canary() if record else None
        if canary:
            header["record"] = canary
        reply, value = self._request(header, tensors, name, timeout)
        recording = verify_recording(reply.get("recorded"), canary) if canary else None
        if recording is not None and recording.tampered:
            self.session.integrity.add(
                [
                    Flag(
                        self.number,
                        "recorder",
                        f"the operator recorder lost its canary in {name}",
                        self.filename,
                    )
                ]
            )
        return CallReport(value, reply.get("devices", []), recording)

    def call(self, name: str, *args: Any, **options: Any) -> Any:
        return self.call_detailed(name, *args, **options).value

    def run(
        self,
        target: str,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        seed=None,
        uses: tuple[str, ...] = (),
    ) -> Any:
        """Run our driver `module:function(student_module, **params)` inside the sandbox. `uses` names
        the student functions it calls: if one of them already timed out, it fails at once."""
        for name in uses:
            if name in self._timed_out:
                raise StudentTimedOut(name, self._timed_out[name])
        params_tree, tensors, _ = wire.encode(params or {})
        header = {
            "op": "run",
            "target": target,
            "params": params_tree,
            "seed": self.session.seed_for_test() if seed is None else seed,
        }
        return self._request(header, tensors, YOUR_CODE, timeout)[1]

    def close(self) -> None:
        """Stop the section's processes, logging what they printed."""
        for process in self._processes.values():
            self._stop_and_log(process)
        self._processes.clear()

    def _stop_and_log(self, process: StudentProcess) -> None:
        """Stop first: what the child printed last sits in its buffers until it exits."""
        process.stop()
        self.session.log_output(self, process)


def _kept_tree(sliced: Sliced) -> ast.Module:
    """The statements the grader keeps (and runs), as one module: what the static review reads."""
    kept = {unit.lineno for unit in sliced.units}
    body = [node for node in sliced.tree.body if _first_line(node) in kept]
    return ast.Module(body=body, type_ignores=[])


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


class GradingSession:
    """Everything one grading run knows about the submission, shared by all checks."""

    def __init__(
        self,
        submission_dir: Path,
        table: AssignmentTable,
        profile: Profile,
        sandbox_user: str = "auto",
        protect: tuple[Path, ...] = (CHECKS_DIR,),
        seed: int | None = None,
    ) -> None:
        self.uploaded_dir = submission_dir
        self.submission_dir = submission_dir
        self.copy: PrivateCopy | None = None
        self.refused: dict[int, list[RefusedFile]] = {}
        self.table = table
        self.profile = profile
        self.sandbox_user = sandbox_user
        self.protect = protect
        self.current_test: str | None = None
        #: The secret of this run: hidden tests draw their inputs from it; --seed replays a run.
        self.secret = secrets.randbits(31) if seed is None else seed
        self.integrity = IntegrityLog()
        self.files: dict[int, Found] = {}
        #: What the student is told once per section about its file (left-out cells, the wrong notebook).
        self.notes: dict[int, tuple[str, ...]] = {}
        self._sections: dict[int, StudentSection | SectionUnavailable] = {}
        self._identities: dict[int, Identity] = {}
        self._view: ChildView | None = None
        self._template: ForkServer | None = None
        self._driver_reply: int | None = None
        self.stage: Stage | None = None
        self.confinement: dict[str, dict[str, Any]] = {}
        self.limits = SandboxLimits(
            cpu_seconds=table.sandbox.cpu_seconds,
            memory_bytes=int(table.sandbox.memory_gb * (1 << 30)) if profile.device == "cpu" else 0,
            output_kept_bytes=table.sandbox.output_kept_bytes,
            max_reply_bytes=table.sandbox.max_reply_mb << 20,
            file_bytes=table.sandbox.file_size_mb << 20,
        )

    def start(self) -> None:
        """Copy the submission privately, find the files, and hide the grader's secrets from the
        sandbox user. From here on only the private copy is read."""
        max_file_bytes = int(self.table.sandbox.max_file_mb * (1 << 20))
        self.copy = copy_submission(self.uploaded_dir, max_file_bytes)
        self.submission_dir = self.copy.root
        for refused in self.copy.refused:
            log.info("not read: %s", refused.message())
        stems = [section.file for section in self.table.sections.values()]
        found = discover(self.submission_dir, stems, self.table.answers_by_file())
        for number, section in self.table.sections.items():
            self.refused[number] = [r for r in self.copy.refused if names_notebook(r.path, section.file)]
        self.files = {number: found[section.file] for number, section in self.table.sections.items()}
        log.info(
            "grading seed %d (never shown to students; --seed %d replays this run)", self.secret, self.secret
        )
        for number, entry in self.files.items():
            if entry.path is None:
                log.info("section %s: no file found", number)
            else:
                log.info(
                    "section %s: grading %s %s",
                    number,
                    entry.path.relative_to(self.submission_dir),
                    entry.why,
                )
                for other in entry.passed_over:
                    log.info("section %s: passed over %s", number, other.relative_to(self.submission_dir))
        if os.geteuid() == 0:
            runtime = [Path(sys.executable).resolve().parent, Path(sys.prefix)]
            blocked = unreachable_folders(runtime)
            if blocked:
                raise IdentityError(
                    "the sandbox user cannot reach the grader's Python or code; make these folders "
                    f"traversable by others (chmod o+x), or install elsewhere: {', '.join(map(str, blocked))}"
                )
            for path in self.protect:
                if path.exists():
                    os.chmod(path, 0o700 if path.is_dir() else 0o600)
        self.stage = Stage()

    def identity(self, section: int) -> Identity:
        """The section's own sandbox identity (a dedicated uid per section when root)."""
        if section not in self._identities:
            identity = choose_identity(self.sandbox_user)
            self._identities[section] = identity
            log.info(
                "section %s: sandbox identity uid %s%s",
                section,
                identity.uid,
                "" if identity.drops_privileges else " (not root: no privilege drop)",
            )
        return self._identities[section]

    def child_view(self) -> ChildView:
        """What every child may read: the staged code, the interpreter, the profile's model folder.
        As root, the rest of the repository is closed to others (the no-namespace fallback). Without
        root the child runs as the caller and no view can be enforced: only the staged code is set."""
        if self._view is None:
            assert self.stage is not None, "start() stages the code"
            view = ChildView(self.stage.code, interpreter_paths())
            if os.geteuid() == 0:
                view.model = self._model_folder()
                for path in hide_except(REPO_ROOT, [path for _, path in view.labelled()]):
                    log.debug("closed to the sandbox user: %s", path)
            log.info("the child may read: %s", ", ".join(f"{what} {path}" for what, path in view.labelled()))
            self._view = view
        return self._view

    def _model_folder(self) -> Path | None:
        from grader.sections.s3.resources import ProfileResourcesMissing, model_folder

        try:
            return model_mount(Path(model_folder(self.profile)).resolve())
        except (ProfileResourcesMissing, OSError) as error:
            log.info("the child gets no model folder: %s", error)
            return None

    def driver_reply_bytes(self) -> int:
        """The largest reply a driver may send: trained weights, so bounded by the profile's model (its
        weight files, with room for a wider dtype) on top of an answer's allowance, and by the table."""
        if self._driver_reply is None:
            model = self.child_view().model
            weights = sum(
                path.stat().st_size
                for pattern in WEIGHT_FILES
                for path in (model.rglob(pattern) if model is not None else ())
                if path.is_file()
            )
            bound = ANSWER_REPLY_BYTES + 2 * weights if weights else self.limits.max_reply_bytes
            self._driver_reply = min(bound, self.limits.max_reply_bytes)
        return self._driver_reply

    def spawn(self, section: int) -> StudentProcess:
        # On a CPU profile the student's process sees no GPU, so `device = "cuda" if available` in
        # their code agrees with where the grader's own tensors are.
        hide_gpus = {"CUDA_VISIBLE_DEVICES": ""} if self.profile.device == "cpu" else {}
        identity = self.identity(section)
        if self._template is None:
            self._template = template_for(self.child_view(), self._preloaded())
        process = StudentProcess(identity, self.limits, self.child_view(), self._template, hide_gpus)
        # The log keeps the launcher's words; results.json a form that is the same on every run.
        log.info("section %s: confinement %s", section, json.dumps(process.confinement, sort_keys=True))
        stable = {key: value for key, value in process.confinement.items() if key not in ("uid", "gid")}
        stable["user"] = identity.describe()
        self.confinement[f"section {section}"] = stable
        return process

    def _preloaded(self) -> tuple[str, ...]:
        """The heavy modules the student processes of the sections found in this submission import
        (each section's drivers package names them): the template imports them ahead."""
        found = [number for number, entry in self.files.items() if entry.path is not None]
        names: list[str] = []
        for number in found:
            try:
                drivers = importlib.import_module(f"grader.sections.s{number}.drivers")
            except ModuleNotFoundError:
                continue
            names += getattr(drivers, "PRELOADED", ())
        return tuple(dict.fromkeys(names))

    def seed_for_test(self) -> int:
        """The seed of a call: fixed for public tests, drawn from the run's secret for hidden ones."""
        if self.current_visibility() == "hidden":
            return self.hidden_seed()
        return zlib.crc32((self.current_test or "").encode()) & 0x7FFFFFFF

    def hidden_seed(self, purpose: str = "") -> int:
        """A seed for the current hidden test's inputs that only this run's secret determines."""
        return zlib.crc32(f"{self.secret}:{self.current_test}:{purpose}".encode()) & 0x7FFFFFFF

    def current_visibility(self) -> str:
        """ "public" or "hidden": the current test's, which picks the student process that serves it."""
        if self.current_test is None:
            return "public"
        return self.table.test(self.current_test).visibility

    def section(self, number: int) -> StudentSection:
        """The section's handle; raises SectionUnavailable with the reason if it cannot be graded."""
        if number not in self._sections:
            self._sections[number] = self._open(number)
        entry = self._sections[number]
        if isinstance(entry, SectionUnavailable):
            raise entry
        if entry.findings and number != FROM_SCRATCH_SECTION:
            # §2.1's from-scratch tests say this themselves; elsewhere every test could be forged.
            raise GradingFailure(failure_message(entry.findings, entry.filename, number))
        return entry

    def _open(self, number: int) -> StudentSection | SectionUnavailable:
        section = self.table.sections[number]
        found = self.files.get(number)
        if (found is None or found.path is None) and self.refused.get(number):
            reasons = "; ".join(refused.message() for refused in self.refused[number])
            return SectionUnavailable(
                f"{reasons}, so {section.file} could not be graded. Upload {section.file}.py (or "
                f"{section.file}.ipynb) as an ordinary file."
            )
        if found is None or found.path is None:
            return SectionUnavailable(
                f"{section.file}.py was not found in your submission, so its tests could not run. "
                f"Upload the notebook downloaded as {section.file}.py (or {section.file}.ipynb).",
                NO_FILE,
            )
        others = {file: names for file, names in self.table.answers_by_file().items() if file != section.file}
        last_part = max(int(row.number.split(".")[1]) for row in self.table.tests if row.section == number)
        try:
            answers = self.table.answers(number)
            source = read_section(found.path, section.file, answers, (number, last_part), others)
        except IntakeError as error:
            # The whole reason once, at the top of the report; each test names it in one line.
            self.notes[number] = (str(error),)
            return SectionUnavailable(f"{error.headline} (the reason is at the top of this report).")
        self.notes[number] = source.notes
        sliced = source.sliced
        log.info(
            "section %s: kept %d statements, dropped %d top-level statements (lines %s)",
            number,
            len(sliced.units),
            len(sliced.dropped_lines),
            ", ".join(map(str, sliced.dropped_lines[:40])) + (" …" if len(sliced.dropped_lines) > 40 else ""),
        )
        if sliced.renamed_legacy:
            log.info("section %s: m_key read as key141/key142 (2024 notebook names)", number)
        return StudentSection(self, number, source.normalised, sliced, source.unreadable_answers)

    def log_output(self, section: StudentSection, process: StudentProcess) -> None:
        text = process.output.text().strip()
        if text:
            log.info("output of the %s process:\n%s", section.filename, text)

    def close(self) -> None:
        for entry in self._sections.values():
            if isinstance(entry, StudentSection):
                entry.close()
        if self._template is not None:
            self._template.remove()
        for identity in self._identities.values():
            identity.release()
        if self.stage is not None:
            self.stage.remove()
        if self.copy is not None:
            self.copy.remove()
