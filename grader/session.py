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
import hmac
import importlib
import json
import logging
import os
import secrets
import sys
import traceback
import zlib
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, cast

import torch

from grader.assignment_home import CHECKS_DIR
from grader.declarations import declared
from grader.errors import (
    NO_FILE,
    STUDENT_ERROR,
    TIMEOUT,
    GraderFault,
    GradingFailure,
    MissingAnswer,
    NotImplementedYet,
    SectionUnavailable,
    StaffSetupFailure,
    StudentProcessDied,
    StudentRaised,
    StudentTimedOut,
)
from grader.intake.discover import Found, discover, names_notebook
from grader.intake.limits import IntakeClock, IntakeError, on_time
from grader.intake.normalise import Normalised
from grader.intake.private_copy import PrivateCopy, RefusedFile, copy_submission
from grader.intake.sections import read_section
from grader.intake.slicer import Sliced, Unit, binds
from grader.integrity import (
    Flag,
    IntegrityLog,
    Recording,
    constructs,
    module_names,
    new_canary,
    verify_recording,
)
from grader.reach_rules import (
    Allowlist,
    allowlist_message,
    allowlist_violations,
    forging_message,
)
from grader.replies import UNUSABLE, UnusableReply, load_problem, reply_problem
from grader.sandbox import wire
from grader.sandbox.cleanup import world_writable_folders
from grader.sandbox.fork_server import ForkServer
from grader.sandbox.identity import Identity, IdentityError, choose_identity, unreachable_folders
from grader.sandbox.library_versions import removed_api_notes
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
from grader.sandbox.protocol import (
    STAND_INS_VARIABLE,
    STUDENTS_LIBRARIES_VARIABLE,
    CallRequest,
    Error,
    GetRequest,
    LoadFailure,
    LoadReply,
    LoadRequest,
    Reply,
    RunRequest,
    StudentError,
    ValueReply,
)
from grader.sandbox.staging import Stage, hide_except, interpreter_paths
from grader.sanitise import quoted
from grader.section_resources import declared_resources, section_resources
from grader.table import AssignmentTable, Profile

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
    """The student's definitions for one notebook, loaded in a sandboxed child on demand.

    Checks receive it as their section fixture (``a2s1``, ``a2s2``, ``a2s3``) and use it through
    ``grader.checks_api.SectionAPI``: ``get``, ``call``, ``call_detailed``, ``run``, ``has``,
    ``function_node`` and the attributes below. Whatever reaches the student's code fails with a
    ``GradingFailure`` subclass whose message is ready for the student (grader/errors.py); a
    condition of ours raises ``GraderFault``, which the plugin reports as an internal error.

    Attributes:
        number: the section's number in the table (1 for A2S1).
        filename: the student's file name as submitted (e.g. ``"A2S2 (1).py"``), for messages.
        session: the GradingSession the section belongs to; section helpers read only its
            ``integrity`` log (to flag what staff should see) and ``cuda_available()``.
    """

    def __init__(
        self,
        session: GradingSession,
        number: int,
        normalised: Normalised,
        sliced: Sliced,
        unreadable: dict[str, str] | None = None,
        allowlist: Allowlist | None = None,
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
        self.load_failures: list[LoadFailure] = []
        self.starts = 0
        self.allowlist = allowlist
        self._rule_problems: dict[str, str | None] = {}
        kept = {id(statement) for statement in sliced.statements}
        modules = module_names(sliced.tree.body)
        for statement in sliced.tree.body:
            on_time()
            reached = id(statement) in kept
            for found in constructs([statement], modules):
                if found.forging and reached:
                    continue  # judged with the answer that reaches it (rule_problem)
                where = "the answers reach" if reached else "no answer reaches"
                kind = "construct" if found.forging else "note"
                session.integrity.add(
                    [Flag(number, kind, f"{found.what}, in code {where}", self.normalised.where(found.line))]
                )

    def rule_problem(self, name: str) -> str | None:
        """Why the tests that use answer `name` cannot be graded, or None: what `name` reaches holds a
        construct that can forge a verdict, or something the section's allowlist does not list
        (grader/reach_rules.py). Computed once per answer; each problem is flagged for staff."""
        if name not in self._rule_problems:
            self._rule_problems[name] = self._judge_reach(name)
        return self._rule_problems[name]

    def _judge_reach(self, name: str) -> str | None:
        reach = self.sliced.reached_by([name])
        forging = [c for c in constructs(reach) if c.forging]
        if forging:
            self._flag_rule(name, [(c.what, c.line) for c in forging])
            return forging_message(name, [f"{c.what} ({self.normalised.where(c.line)})" for c in forging])
        refused = allowlist_violations(reach, self.allowlist) if self.allowlist else []
        if refused:
            self._flag_rule(name, [(f"uses {v.what}", v.line) for v in refused])
            assert self.allowlist is not None
            return allowlist_message(
                name, self.allowlist, [(v.written, v.what, self.normalised.where(v.line)) for v in refused]
            )
        return None

    def _flag_rule(self, name: str, found: list[tuple[str, int]]) -> None:
        self.session.integrity.add(
            Flag(self.number, "rule", f"{name} reaches code that {what}", self.normalised.where(line))
            for what, line in found
        )

    def require_rules(self, names: tuple[str, ...] | list[str]) -> None:
        """Fail (GradingFailure) when what any of `names` reaches breaks a rule (``rule_problem``)."""
        for name in names:
            problem = self.rule_problem(name)
            if problem:
                raise GradingFailure(problem)

    def has(self, name: str) -> bool:
        """Whether the kept code binds `name` at top level: read from the intake's slices, without
        the student's process.

        Args:
            name: a top-level name of the student's file.

        Returns:
            True when a statement intake kept binds ``name`` (it may still fail when it runs).

        Raises:
            Nothing: no student code runs, so a section that cannot load still answers.
        """
        return any(name in unit.binds for unit in self.sliced.units)

    def function_node(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The syntax tree of the student's function ``name``, for static checks (a loop, say).

        Args:
            name: a top-level function of the student's file.

        Returns:
            The last top-level ``def name`` (or ``async def``) intake read, or None when there is none.

        Raises:
            Nothing: it reads the intake's parse, without the student's process.
        """
        return self.sliced.functions.get(name)

    def start(self) -> None:
        """Load the student's definitions now, for the current test's visibility, unless they are loaded.

        The plugin's section fixtures call this before a test's own time limit starts, so loading runs
        under the table's ``[sandbox] load_timeout`` only and never counts against a test. A top level
        that cannot be loaded (too slow, the process ended, an unusable reply) is reported once, at the
        top of the report; it raises SectionUnavailable, now and for every later test, without loading
        again.
        """
        self._process()

    def _process(self) -> StudentProcess:
        """The live process for the current test's visibility, started and loaded if there is none."""
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
        try:
            self._load(process)
        except SectionUnavailable as unavailable:
            self._broken = unavailable
            raise
        self._processes[visibility] = process
        return process

    def _load(self, process: StudentProcess) -> None:
        """Run the kept statements in ``process`` under the load deadline; log what raised there."""
        timeout = self.session.table.sandbox.load_timeout
        request: LoadRequest = {
            "op": "load",
            "id": secrets.token_hex(8),
            "filename": self.filename,
            "units": [
                {"lineno": unit.lineno, "source": unit.source, "binds": list(unit.binds), "kind": unit.kind}
                for unit in self.runnable_units()
            ],
        }
        try:
            raw, _ = process.request(request, None, timeout, LOAD_REPLY_BYTES)
            problem = load_problem(raw) or (
                None if raw["id"] == request["id"] else "a reply to another request"
            )
        except ChildTimeout:
            self.session.log_output(self, process)
            raise self._cannot_load(
                f"Loading the definitions in {self.filename} took longer than {timeout:g} s",
                "The grader runs only imports, definitions and the top-level statements your answers depend "
                "on; one of those must be doing far more work than it should.",
                TIMEOUT,
            ) from None
        except ChildGone as gone:
            self.session.log_output(self, process)
            raise self._cannot_load(
                f"The process loading {self.filename} {gone.how} before your definitions were loaded",
                "Code that calls exit or os._exit, or uses too much memory, at top level ends it.",
            ) from None
        except wire.WireError as error:
            problem = str(error)
        if problem is not None:
            process.kill()
            raise self._cannot_load(f"While {self.filename} was loading, {UNUSABLE} ({problem})")
        self.load_failures = cast(LoadReply, raw)["failures"]
        for failure in self.load_failures:
            log.info(
                "%s: %s raised %s: %s",
                self.filename,
                self._where(failure),
                failure["type"],
                failure["message"],
            )

    def _cannot_load(
        self, headline: str, advice: str = "", status: str = STUDENT_ERROR
    ) -> SectionUnavailable:
        """The failure every test of the section gets: the whole reason once, at the top of the report
        (beside the section's other notes), and one line in each test."""
        reason = f"{headline}, so none of its tests could run. {advice}".strip()
        self.session.notes[self.number] = (*self.session.notes.get(self.number, ()), reason)
        log.info("section %s: %s", self.number, reason)
        return SectionUnavailable(f"{headline} (the reason is at the top of this report).", status)

    def _where(self, info: StudentError) -> str:
        lineno = info.get("lineno")
        place = self.normalised.where(lineno) if lineno else self.filename
        function = info.get("function")
        return f"{place}, in {function}" if function and function != "<module>" else place

    def _raise_for(self, error: Error, name: str) -> NoReturn:
        """Raise what an error reply stands for: the student's failure, or ours for a "grader" error."""
        if error["kind"] == "grader":
            raise GraderFault(f"the child could not serve `{name}`: {error['message']}")
        if error["kind"] == "bad_value":
            raise UnusableReply(name, f"a value of a kind it cannot read: {error['message']}")
        if error["kind"] == "missing":
            if name in self.unreadable:
                raise SectionUnavailable(self.unreadable[name])
            cause = error["cause"]
            if cause:
                detail = f"Its definition ({self._where(cause)}) raised {cause['type']}: {cause['message']}"
                raise MissingAnswer(name, self.filename, detail)
            bound = self._bound_names()
            if name in bound:
                raise MissingAnswer(
                    name,
                    self.filename,
                    "in the part that is graded: its definition sits below it (the graded part ends at the "
                    "next section's heading, or after the section's last test cell). Move it above.",
                )
            close = difflib.get_close_matches(name, sorted(bound), n=1, cutoff=0.75)
            raise MissingAnswer(name, self.filename, f"Did you mean `{close[0]}`?" if close else "")
        if error["kind"] == "not_implemented":
            raise NotImplementedYet(error["name"] or name)
        # A driver of ours is no name of the student's: name their function that raised instead.
        who = error.get("function") or name if name == YOUR_CODE else name
        raise StudentRaised(who, error["type"], error["message"], self._where(error))

    def runnable_units(self) -> list[Unit]:
        """The kept statements the student's process runs: those the answers whose reach keeps its
        rules reach. Code only a refused answer reaches never runs, so what it would do when it is
        defined (a default argument, a decorator) cannot change what a graded answer computes."""
        allowed = set().union(
            *(
                self.sliced.reach.get(name, frozenset())
                for name in self.sliced.reach
                if not self.rule_problem(name)
            )
        )
        return [unit for position, unit in enumerate(self.sliced.units) if position in allowed]

    def _bound_names(self) -> set[str]:
        """Every name the file binds at top level, graded or not (for "did you mean")."""
        return {name for statement in self.sliced.tree.body for name in binds(statement)}

    def _request(
        self,
        request: CallRequest | GetRequest | RunRequest,
        tensors: dict[str, torch.Tensor],
        name: str,
        timeout: float | None,
    ) -> tuple[ValueReply, Any]:
        """Send one request and return its validated reply and decoded value; raise what a failure means."""
        timeout = float(timeout or self.session.table.sandbox.call_timeout)
        # A student function that timed out once is not called again: later tests fail at once with
        # the same reason, so it costs one deadline per run. (Drivers are not remembered: one driver
        # runs different student functions for different tests.)
        if request["op"] == "call" and name in self._timed_out:
            raise StudentTimedOut(name, self._timed_out[name])
        process = self._process()
        cap = self.session.driver_reply_bytes() if request["op"] == "run" else ANSWER_REPLY_BYTES
        try:
            raw, reply_tensors = process.request(request, tensors, timeout, cap)
        except ChildTimeout:
            self.session.log_output(self, process)
            if request["op"] == "call":
                self._timed_out[name] = timeout
            raise StudentTimedOut(name, timeout) from None
        except ChildGone as gone:
            self.session.log_output(self, process)
            raise StudentProcessDied(name, gone.how) from None
        except wire.WireError as error:
            raise UnusableReply(name, str(error)) from None
        if raw.get("id") != request["id"]:
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
        problem = reply_problem(raw)
        if problem is not None:
            process.kill()
            raise UnusableReply(name, problem)
        reply = cast(Reply, raw)
        if reply["ok"] is False:
            self._raise_for(reply["error"], name)
        try:
            value = wire.decode(reply["value"], reply_tensors)
        except wire.WireError as error:
            raise UnusableReply(name, str(error)) from None
        return reply, value

    def get(self, name: str, *, timeout: float | None = None) -> Any:
        """The value the submission's kept code binds to ``name`` at top level, read once per run.

        The first read is kept (its failure too) and every later read returns it, so all checks grade
        the same value even if the student's process would give another one the second time.

        Args:
            name: a top-level name of the student's file; it must be one of the table's ``answers``
                for the section (or a test's), or the intake does not keep the statements that bind it.
            timeout: seconds the read may take (default: the table's ``call_timeout``).

        Returns:
            The value as grader.sandbox.wire decodes it: tensors (on the CPU), numpy arrays, Python
            numbers, strings, None, lists, tuples and dicts of these; anything else as ``wire.Opaque``.

        Raises:
            GradingFailure: a subclass whose message is ready for the student, kept and raised again
                by every later read: MissingAnswer (``name`` is not defined, or its definition
                raised, or sits below the graded part), SectionUnavailable (the file or this answer
                cannot be read, or the top level cannot be loaded), StudentTimedOut,
                StudentProcessDied, UnusableReply (a BadValue: the value or the reply cannot be
                read); a plain GradingFailure when what ``name`` reaches breaks a rule
                (``rule_problem``).
            GraderFault: the child reported an error of ours (not kept).
        """
        if name not in self._snapshots:
            try:
                self.require_rules([name])
                request: GetRequest = {"op": "get", "id": secrets.token_hex(8), "name": name}
                self._snapshots[name] = self._request(request, {}, name, timeout)[1]
            except GradingFailure as failure:
                self._snapshots[name] = failure
        kept = self._snapshots[name]
        if isinstance(kept, GradingFailure):
            raise kept
        return kept

    def call_detailed(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        device: str | None = None,
        seed: int | None = None,
        record: bool = False,
        cotangent: torch.Tensor | None = None,
    ) -> CallReport:
        """Call the student's function ``name(*args, **kwargs)`` in the sandbox; see docs/writing-checks.md.

        The grader's options are keyword-only and apart from the student's arguments, so a student
        parameter may be called ``timeout``, ``device`` or ``seed``, and a misspelt option is an error in
        the check (reported as internal), never an argument the student's function is blamed for.

        Args:
            name: the student's function, a top-level name of their file.
            args: its positional arguments, a tuple or list of values the wire carries (tensors, numpy
                arrays, numbers, strings, None, and lists, tuples and dicts of these).
            kwargs: its keyword arguments, by name.
            timeout: seconds the call may take (default: the table's ``call_timeout``). A call past it
                raises StudentTimedOut, and so does every later call of ``name`` in the run, at once.
            device: where the tensors among the arguments go before the call ("cuda"); None leaves
                them on the CPU. Asking for CUDA in a run without it raises GraderFault (our bug).
            seed: what torch, numpy and random are seeded with before the call (default: fixed for a
                public test, drawn from the run's secret for a hidden one).
            record: record PyTorch's own attention if it runs during the call (op_recorder.py), with a
                canary the trusted side chose; a lost canary raises the integrity flag.
            cotangent: also return the vector-Jacobian product for the tensor arguments: the value
                becomes ``{"output": value, "grads": [...]}`` (grader.verdicts.gradient_problem checks it).

        Returns:
            CallReport: the value (tensors on the CPU), the devices its tensors were on, and with
            ``record`` the verified recording.

        Raises:
            GradingFailure: a subclass whose message is ready for the student: NotImplementedYet
                (the function still raises NotImplementedError), StudentRaised (it raised anything
                else), StudentTimedOut (past ``timeout``, now or earlier in the run),
                StudentProcessDied (the process ended), MissingAnswer (``name`` is not defined),
                SectionUnavailable (the section cannot be read or loaded), UnusableReply (a
                BadValue: the result or the reply cannot be read); a plain GradingFailure when what
                ``name`` reaches breaks a rule (``rule_problem``).
            GraderFault: a condition of ours (CUDA asked for where there is none, or the child
                reported an error of ours).
            TypeError: ``args`` is not a tuple or list, or ``kwargs`` not a mapping (a check's bug).
            grader.sandbox.wire.WireError: an argument the wire cannot carry (a check's bug).
        """
        if not isinstance(args, tuple | list) or not isinstance(kwargs or {}, Mapping):
            raise TypeError(f"call({name!r}, args, kwargs): args must be a tuple or list, kwargs a mapping")
        if device is not None and device.startswith("cuda") and not self.session.cuda_available():
            raise GraderFault(f"a check asked to call `{name}` on {device}, but this run has no CUDA")
        (args_tree, kwargs_tree, cotangent_tree), tensors, _ = wire.encode(
            [list(args), dict(kwargs or {}), cotangent]
        )
        self.require_rules([name])
        canary = new_canary() if record else None
        request: CallRequest = {
            "op": "call",
            "id": secrets.token_hex(8),
            "name": name,
            "args": args_tree,
            "kwargs": kwargs_tree,
            "device": device,
            "seed": self.session.seed_for_test() if seed is None else seed,
            "cotangent": cotangent_tree,
            "record": canary,
        }
        reply, value = self._request(request, tensors, name, timeout)
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
        return CallReport(value, reply["devices"], recording)

    def call(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        device: str | None = None,
        seed: int | None = None,
        record: bool = False,
        cotangent: torch.Tensor | None = None,
    ) -> Any:
        """Call the student's function ``name(*args, **kwargs)`` in the sandbox and return its value.

        ``call_detailed(...).value``: the same arguments, options and failures; use ``call_detailed``
        for the devices of the result or the operator recording.

        Args:
            name: the student's function, a top-level name of their file.
            args: its positional arguments (a tuple or list of values the wire carries).
            kwargs: its keyword arguments, by name.
            timeout, device, seed, record, cotangent: the grader's options, as for ``call_detailed``.

        Returns:
            The value the function returned, decoded as for ``get`` (tensors on the CPU).

        Raises:
            GradingFailure: as for ``call_detailed`` (NotImplementedYet, StudentRaised,
                StudentTimedOut, StudentProcessDied, MissingAnswer, SectionUnavailable,
                UnusableReply, or a broken rule).
            GraderFault, TypeError, grader.sandbox.wire.WireError: as for ``call_detailed``.
        """
        report = self.call_detailed(
            name, args, kwargs, timeout=timeout, device=device, seed=seed, record=record, cotangent=cotangent
        )
        return report.value

    def run(
        self,
        target: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        seed: int | None = None,
        uses: tuple[str, ...] = (),
    ) -> Any:
        """Run our driver ``module:function(student_module, **params)`` inside the sandbox.

        Drivers live in the package a section declares (its ``drivers``) and run beside the student's
        code, which can replace them: a check verifies what one returns (grader/verdicts.py). A public
        check's driver must be in ``PUBLIC_DRIVERS`` of handout/checker_manifest.py.

        Args:
            target: ``"PACKAGE.MODULE:function"``, PACKAGE the section's ``drivers``.
            params: the driver's keyword arguments (values the wire carries).
            timeout: seconds the driver may take (default: the table's ``call_timeout``).
            seed: what torch, numpy and random are seeded with first (default as for ``call``).
            uses: the student answers the driver calls: if one of them already timed out in this
                run, this fails at once with the same StudentTimedOut; if what one reaches breaks a
                rule (``rule_problem``), with that rule's message.

        Returns:
            The driver's return value, decoded as for ``get``; its reply may be as large as the
            profile's model allows (trained weights).

        Raises:
            GradingFailure: as for ``call``, and the student's function that raised is named
                (StudentRaised, NotImplementedYet); StudentTimedOut (past ``timeout``, or at once when
                one of ``uses`` timed out earlier); a plain GradingFailure when what one of ``uses``
                reaches breaks a rule; UnusableReply when the reply cannot be read (the driver's
                reply may be forged: check what it holds before using it, grader/verdicts.py).
            GraderFault: the child reported an error of ours.
        """
        self.require_rules(uses)
        for name in uses:
            if name in self._timed_out:
                raise StudentTimedOut(name, self._timed_out[name])
        params_tree, tensors, _ = wire.encode(dict(params or {}))
        request: RunRequest = {
            "op": "run",
            "id": secrets.token_hex(8),
            "target": target,
            "params": params_tree,
            "seed": self.session.seed_for_test() if seed is None else seed,
        }
        return self._request(request, tensors, YOUR_CODE, timeout)[1]

    def close(self) -> None:
        """Stop the section's processes, logging what they printed."""
        for process in self._processes.values():
            self._stop_and_log(process)
        self._processes.clear()

    def _stop_and_log(self, process: StudentProcess) -> None:
        """Stop first: what the child printed last sits in its buffers until it exits."""
        process.stop()
        self.session.log_output(self, process)


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
        self.secret = secrets.randbits(63) if seed is None else seed
        self.integrity = IntegrityLog()
        self.files: dict[int, Found] = {}
        #: What the student is told once per section about its file (left-out cells, the wrong notebook).
        self.notes: dict[int, tuple[str, ...]] = {}
        self._sections: dict[int, StudentSection | SectionUnavailable] = {}
        self._identities: dict[int, Identity] = {}
        self._view: ChildView | None = None
        self._template: ForkServer | None = None
        self._driver_reply: int | None = None
        self._stand_ins: dict[int, dict[str, str]] = {}
        self.stage: Stage | None = None
        self.confinement: dict[str, dict[str, Any]] = {}
        self.limits = SandboxLimits(
            cpu_seconds=table.sandbox.cpu_seconds,
            memory_bytes=int(table.sandbox.memory_gb * (1 << 30)) if profile.device == "cpu" else 0,
            output_kept_bytes=table.sandbox.output_kept_bytes,
            max_reply_bytes=table.sandbox.max_reply_mb << 20,
            file_bytes=table.sandbox.file_size_mb << 20,
        )

    def start(self, sections: Iterable[int] | None = None) -> None:
        """Copy the submission privately, read it (the intake step: the files of `sections`, all by
        default), and hide the grader's secrets from the sandbox user. From here on only the private
        copy is read.

        The intake (finding the files, reading, parsing and slicing each, reviewing what each answer
        reaches) is one step, under the table's ``[sandbox] intake_timeout`` shared between the files
        it reads (grader/intake/limits.py), done before any test's time limit starts.
        """
        max_file_bytes = int(self.table.sandbox.max_file_mb * (1 << 20))
        self.copy = copy_submission(self.uploaded_dir, max_file_bytes)
        self.submission_dir = self.copy.root
        for refused in self.copy.refused:
            log.info("not read: %s", refused.message())
        clock = IntakeClock(self.table.sandbox.intake_timeout)
        graded = sorted(self.table.sections if sections is None else sections)
        clock.expect(len(graded))
        stems = [section.file for section in self.table.sections.values()]
        found = discover(self.submission_dir, stems, self.table.answers_by_file(), clock)
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
            # What the sandbox uid could write outside its namespace: found now, swept after each child.
            world_writable_folders()
        for number in graded:
            self._sections[number] = self._open(number, clock)
        self.stage = Stage(drivers=[spec.drivers for spec in self.table.sections.values() if spec.drivers])

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
        """The model folder of the first section whose resources have one, mounted for the child."""
        for number, resources in declared_resources(self.table).items():
            try:
                return model_mount(resources.model_folder(self.profile))
            except (StaffSetupFailure, OSError) as error:
                log.info("the child gets no model folder of section %s: %s", number, error)
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

    def cuda_available(self) -> bool:
        """Whether checks may run student code on CUDA: the profile's device is cuda and a GPU is seen."""
        return self.profile.device == "cuda" and torch.cuda.is_available()

    def spawn(self, section: int) -> StudentProcess:
        # On a CPU profile the student's process sees no GPU, so `device = "cuda" if available` in
        # their code agrees with where the grader's own tensors are.
        hide_gpus = {"CUDA_VISIBLE_DEVICES": ""} if self.profile.device == "cpu" else {}
        identity = self.identity(section)
        course_libraries = {STUDENTS_LIBRARIES_VARIABLE: self.table.assignment.students_transformers}
        environment = hide_gpus | course_libraries | self.stand_ins(section)
        if self._template is None:
            self._template = template_for(self.child_view(), self._preloaded())
        process = StudentProcess(identity, self.limits, self.child_view(), self._template, environment)
        # The log keeps the launcher's words; results.json a form that is the same on every run.
        log.info("section %s: confinement %s", section, json.dumps(process.confinement, sort_keys=True))
        stable = {key: value for key, value in process.confinement.items() if key not in ("uid", "gid")}
        stable["user"] = identity.describe()
        self.confinement[f"section {section}"] = stable
        return process

    def stand_ins(self, section: int) -> dict[str, str]:
        """For a section whose notebook loads the model and data itself (the table's `stand_ins`),
        the environment that leads its loading cells to the profile's own; empty otherwise, or when
        the profile's resources are missing (the checks that need them say so)."""
        spec = self.table.sections[section]
        resources = section_resources(spec)
        if not spec.stand_ins or resources is None:
            return {}
        if section not in self._stand_ins:
            assert self.stage is not None, "start() stages the code"
            try:
                self._stand_ins[section] = resources.stand_ins(
                    self.profile, self.stage.add_folder, STAND_INS_VARIABLE
                )
            except StaffSetupFailure as missing:
                log.info("section %s gets no stand-ins: %s", section, missing)
                self._stand_ins[section] = {}
        return self._stand_ins[section]

    def _preloaded(self) -> tuple[str, ...]:
        """The heavy modules the student processes of the sections found in this submission import
        (each section's drivers package names them): the template imports them ahead."""
        names: list[str] = []
        for number, entry in self.files.items():
            drivers = self.table.sections[number].drivers
            if entry.path is not None and drivers:
                names += getattr(importlib.import_module(drivers), "PRELOADED", ())
        return tuple(dict.fromkeys(names))

    def seed_for_test(self) -> int:
        """The seed of the student's process for a call: fixed for public tests; for hidden ones drawn
        from the run's secret for that purpose alone, so that no RNG state the student's code can read
        tells it a hidden test's inputs (drawn here, from ``hidden_seed``)."""
        if self.current_visibility() == "hidden":
            return self.hidden_seed("student process")
        return zlib.crc32((self.current_test or "").encode()) & 0x7FFFFFFF

    def hidden_seed(self, purpose: str = "") -> int:
        """A seed for the current hidden test that only this run's secret determines. Keyed hashing:
        one seed, even with the test's name, tells nothing of the secret or of any other seed."""
        key = self.secret.to_bytes(16, "big", signed=True)
        message = f"{self.current_test}:{purpose}".encode()
        return int.from_bytes(hmac.digest(key, message, "sha256")[:4], "big") & 0x7FFFFFFF

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
        return entry

    def _open(self, number: int, clock: IntakeClock | None = None) -> StudentSection | SectionUnavailable:
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
        try:
            with clock.reading(found.path.name) if clock else nullcontext():
                return self._read(number, found.path)
        except IntakeError as error:
            # The whole reason once, at the top of the report; each test names it in one line.
            self.notes[number] = (str(error),)
            return SectionUnavailable(f"{error.headline} (the reason is at the top of this report).")
        except Exception as error:  # noqa: BLE001 - the reference notebooks read cleanly: the file is at fault
            log.error("reading %s failed:\n%s", found.path.name, traceback.format_exc())
            self.notes[number] = (
                f"{found.path.name} could not be read: it holds something the grader's reader cannot handle "
                f"({type(error).__name__}), so its tests could not run. Download the notebook again from "
                "Colab or Jupyter.",
            )
            return SectionUnavailable(
                f"{found.path.name} could not be read (the reason is at the top of this report)."
            )

    def _read(self, number: int, path: Path) -> StudentSection:
        """Read, slice and review the section's file; IntakeError when it cannot be graded."""
        section = self.table.sections[number]
        others = {file: names for file, names in self.table.answers_by_file().items() if file != section.file}
        answers = self.table.answers(number)
        parts = (number, section.last_graded_part)
        source = read_section(path, section.file, answers, parts, others, section.checked_by)
        sliced = source.sliced
        old_apis = removed_api_notes(sliced.statements, self.table.assignment.students_transformers)
        self.notes[number] = (*source.notes, *old_apis)
        log.info(
            "section %s: kept %d statements, dropped %d top-level statements (lines %s)",
            number,
            len(sliced.units),
            len(sliced.dropped_lines),
            ", ".join(map(str, sliced.dropped_lines[:40])) + (" …" if len(sliced.dropped_lines) > 40 else ""),
        )
        if sliced.renamed_legacy:
            log.info("section %s: m_key read as key141/key142 (2024 notebook names)", number)
        allowlist = (
            declared(section.allowlist, Allowlist, f"sections.{number}.allowlist")
            if section.allowlist
            else None
        )
        student = StudentSection(
            self, number, source.normalised, sliced, source.unreadable_answers, allowlist
        )
        for name in answers:
            student.rule_problem(name)
        return student

    def log_output(self, section: StudentSection, process: StudentProcess) -> None:
        """What the student's process printed, each line quoted (grader.sanitise.quoted), so that no
        line of it can pass for one of the grader's own in the log."""
        text = process.output.text().strip()
        if text:
            log.info("output of the %s process, quoted:\n%s", section.filename, quoted(text))

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
