"""The student's section as checks use it: one sandboxed process per visibility, and its replies.

Checks reach the student's code only through `StudentSection`. Each section's process is started on
first use and started again after a crash or a timeout, so one hostile function costs only the tests
that call it; a function that timed out once is not called again in the run (its later tests fail at
once with the same reason), so it costs one deadline. A section whose top level cannot be loaded fails
every test that needs it with the same reason, without retrying.

Public and hidden tests never share a process (each visibility has its own), so nothing a hidden
call showed the student's code can reach a visible message. Every reply is checked against
``grader.replies`` before it is read; every answer read with ``get`` is fetched once per run and
kept, so a value that changes between reads is graded as it was first read. What an answer reaches is
judged before it is used (grader/answer_rules.py). See grader/verdicts.py for the rule the checks
follow.
"""

from __future__ import annotations

import ast
import difflib
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, cast

import torch

from grader.answer_rules import AnswerRules
from grader.errors import (
    STUDENT_ERROR,
    TIMEOUT,
    GraderFault,
    GradingFailure,
    MissingAnswer,
    NotImplementedYet,
    SectionUnavailable,
    StudentProcessDied,
    StudentRaised,
    StudentTimedOut,
)
from grader.intake.normalise import Normalised
from grader.intake.slicer import Sliced, Unit, binds
from grader.integrity import (
    Flag,
    Recording,
    new_canary,
    verify_recording,
)
from grader.reach_rules import (
    Allowlist,
)
from grader.replies import UNUSABLE, UnusableReply, load_problem, reply_problem
from grader.sandbox import wire
from grader.sandbox.process import (
    ChildGone,
    ChildTimeout,
    StudentProcess,
)
from grader.sandbox.protocol import (
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

if TYPE_CHECKING:
    from grader.session import GradingSession

# Replies that carry answers are small; only a driver's reply (trained weights) may be large.
LOAD_REPLY_BYTES = 1 << 20
ANSWER_REPLY_BYTES = 64 << 20
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

    Checks receive it as their section fixture (``hw1`` for a notebook HW1) and use it through
    ``grader.checks_api.SectionAPI``: ``get``, ``call``, ``call_detailed``, ``run``, ``has``,
    ``function_node`` and the attributes below. Whatever reaches the student's code fails with a
    ``GradingFailure`` subclass whose message is ready for the student (grader/errors.py); a
    condition of ours raises ``GraderFault``, which the plugin reports as an internal error.

    Attributes:
        number: the section's number in the table (the N of ``[sections.N]``).
        filename: the student's file name as submitted (e.g. ``"HW1 (1).py"``), for messages.
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
        self.rules = AnswerRules(number, normalised, sliced, allowlist, session.integrity)
        self._declared = frozenset(session.table.answers(number))

    def _require_declared(self, names: Sequence[str]) -> None:
        """Raise GraderFault when a check asks for a name the table does not declare among the section's
        answers: the intake keeps only what the answers reach, so the student's code would seem to lack
        it, and the student would be told so for a mistake of ours."""
        undeclared = [name for name in names if name not in self._declared]
        if undeclared:
            shown = ", ".join(f"`{name}`" for name in undeclared)
            raise GraderFault(
                f"a check asks for {shown}, which the table does not declare among §{self.number}'s answers "
                f"([sections.{self.number}] answers, or the test row's answers)"
            )

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
                if not self.rules.problem(name)
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
                (``AnswerRules.problem``).
            GraderFault: ``name`` is not among the table's answers for the section, or the child
                reported an error of ours (not kept).
        """
        if name not in self._snapshots:
            self._require_declared([name])
            try:
                self.rules.require([name])
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
                ``name`` reaches breaks a rule (``AnswerRules.problem``).
            GraderFault: a condition of ours (``name`` is not among the table's answers, CUDA asked
                for where there is none, or the child reported an error of ours).
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
        self._require_declared([name])
        self.rules.require([name])
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
                rule (``AnswerRules.problem``), with that rule's message.

        Returns:
            The driver's return value, decoded as for ``get``; its reply may be as large as the
            profile's model allows (trained weights).

        Raises:
            GradingFailure: as for ``call``, and the student's function that raised is named
                (StudentRaised, NotImplementedYet); StudentTimedOut (past ``timeout``, or at once when
                one of ``uses`` timed out earlier); a plain GradingFailure when what one of ``uses``
                reaches breaks a rule; UnusableReply when the reply cannot be read (the driver's
                reply may be forged: check what it holds before using it, grader/verdicts.py).
            GraderFault: one of ``uses`` is not among the table's answers, or the child reported an
                error of ours.
        """
        self._require_declared(uses)
        self.rules.require(uses)
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
