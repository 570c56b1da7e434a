"""The §2.1 checks' shared steps: call a student function under the from-scratch rule, compare its
result with the oracle, and word the failure with the likely bug.

Kept apart from the check files so that the public and the hidden checks judge in exactly the same way.
Failure texts give shapes, the size and place of the largest difference, and the named bug; never the
expected values.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch

from a2.sections.s2.allowlist import FROM_SCRATCH
from a2.sections.s2.closeness import matches
from a2.sections.s2.mha import reference_self_attention
from grader.comparison import tensor_problem
from grader.errors import GradingFailure, StudentRaised
from grader.integrity import Flag

if TYPE_CHECKING:
    from a2.sections.s2.known_bugs import HelperBugs
    from grader.checks_api import Note, SectionAPI

#: The known-bug diagnosis rebuilds every bug from working helpers, so the students' local checker
#: leaves it out (handout/checker_manifest.py withholds it). Without it a failure still says where
#: the result is wrong, and that the full grader names the likely bug.
DIAGNOSIS_MODULE = "a2.sections.s2.known_bugs"
NO_DIAGNOSIS = "(When Gradescope grades it, this message also names the likely bug.)"


def known_bugs() -> ModuleType | None:
    """The diagnosis module, or None where it is withheld (the students' checker)."""
    try:
        import a2.sections.s2.known_bugs as attention_bugs
    except ModuleNotFoundError as missing:
        if missing.name != DIAGNOSIS_MODULE:
            raise
        return None
    return attention_bugs


LOOP_NOTE = (
    "{name} uses a loop. That is allowed and costs no points, but a vectorised version is shorter "
    "and much faster."
)


@dataclass(frozen=True)
class Case:
    """One self_attention input: sizes, heads and whether it is causal."""

    batch: int
    n_tok: int
    n_embd: int
    n_heads: int
    causal: bool
    #: The notebook's own checks pass one random tensor as Q, K and V.
    shared_input: bool = False

    def describe(self) -> str:
        inputs = "Q = K = V" if self.shared_input else "Q, K, V"
        return (
            f"{inputs} of shape ({self.batch}, {self.n_tok}, {self.n_embd}), "
            f"n_heads={self.n_heads}, causal={self.causal}"
        )

    def inputs(self, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q, K and V in float32, drawn in that order (or once) from a generator seeded with ``seed``."""
        generator = torch.Generator().manual_seed(seed)
        shape = (self.batch, self.n_tok, self.n_embd)
        if self.shared_input:
            x = torch.randn(shape, generator=generator)
            return x, x, x
        q, k, v = (torch.randn(shape, generator=generator) for _ in range(3))
        return q, k, v


def uses_loops(node: ast.FunctionDef | ast.AsyncFunctionDef | None) -> bool:
    """Whether the function has a for/while loop or a comprehension."""
    loop_types = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    return node is not None and any(isinstance(inner, loop_types) for inner in ast.walk(node))


def note_loops(section: SectionAPI, name: str, note: Note) -> None:
    """Note (ungraded) that the student's ``name`` uses a loop, when it does."""
    if uses_loops(section.function_node(name)):
        note(LOOP_NOTE.format(name=name))


def call_from_scratch(
    section: SectionAPI,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None = None,
    *,
    device: str | None = None,
    cotangent: torch.Tensor | None = None,
) -> Any:
    """Call ``name(*args, **kwargs)`` with its operators recorded; fail if PyTorch's own attention ran,
    or if the recording cannot be trusted (its canary is missing). ``device`` and ``cotangent`` are
    StudentSection.call_detailed's.

    What ``name`` reaches was already read against §2.1's allowlist (the session refuses the call
    otherwise); the recording is the second layer, for what reading cannot see."""
    report = section.call_detailed(name, args, kwargs, device=device, record=True, cotangent=cotangent)
    recording = report.recording
    if recording is None or recording.tampered:
        raise GradingFailure(
            f"While {name} ran, the grader's record of the operations it performed was switched off or "
            "altered, so it cannot be graded. Code written for the exercise never touches it; the course "
            "staff have been told."
        )
    if recording.forbidden:
        # Reading the code found nothing outside the allowlist: a route the reading cannot see.
        ran = next((n for n in recording.forbidden if not n.startswith("aten.")), recording.forbidden[0])
        route = f"{name} ran {', '.join(recording.forbidden)} by a route its code does not name"
        section.session.integrity.add([Flag(section.number, "recorder", route, section.filename)])
        raise GradingFailure(f"{name} ran PyTorch's own attention ({ran}). {FROM_SCRATCH.rule}.")
    if device and device.startswith("cuda") and any(not d.startswith("cuda") for d in report.devices):
        raise DeviceMixup(
            f"{name} was given CUDA tensors but returned a CPU tensor; keep results on the inputs' device."
        )
    return report.value


class DeviceMixup(GradingFailure):
    """A result on another device than the inputs'."""


#: What PyTorch says when one operation mixes tensors of two devices.
MIXUP_WORDS = ("same device", "expected device", "on the expected device")


def _mixed_devices(outcome: Any) -> bool:
    if isinstance(outcome, DeviceMixup):
        return True
    return isinstance(outcome, StudentRaised) and any(words in str(outcome) for words in MIXUP_WORDS)


def run_devices(section: SectionAPI) -> list[str | None]:
    """Where §2.1's functions are judged: on the CPU, and on CUDA too when the run may use it."""
    return [None, "cuda"] if section.session.cuda_available() else [None]


def on_devices(attempt: Callable[[str | None], Failure | None], devices: list[str | None]) -> Failure | None:
    """Judge one case on each device (None: the CPU).

    A function is judged on the device its inputs are on. One that moves its own tensors to the
    notebook's DEVICE is right when its inputs are on that device, as in the notebook: so a case that
    is right on one device, and elsewhere only mixed devices, is right (test 2.1.15 and the CPU note
    speak of portability). Otherwise its first failure stands; an error the student's code raised
    is raised as it is.
    """
    outcomes: list[Any] = []
    for device in devices:
        try:
            outcomes.append(attempt(device))
        except (StudentRaised, DeviceMixup) as failed:
            outcomes.append(failed)
    if len(outcomes) > 1 and None in outcomes and all(o is None or _mixed_devices(o) for o in outcomes):
        return None
    for outcome in outcomes:
        if isinstance(outcome, GradingFailure):
            raise outcome
    return next((outcome for outcome in outcomes if outcome is not None), None)


@dataclass(frozen=True)
class Failure:
    """One wrong result: the call as the student would write it, what is wrong, and the bugs it matches."""

    call: str
    problem: str
    candidates: list[Any]


def judge(
    call: str,
    got: Any,
    want: torch.Tensor,
    tolerance: float,
    explain: Callable[[torch.Tensor], list[Any]],
    dtype: torch.dtype | None = None,
) -> Failure | None:
    """None when ``got`` is right; else the failure, with the known bugs that reproduce wrong values."""
    problem = tensor_problem(got, want, tolerance, dtype)
    if problem is None:
        return None
    wrong_values = isinstance(got, torch.Tensor) and got.shape == want.shape and not matches(got, want)
    return Failure(call, problem, explain(got) if wrong_values else [])


def _explain(find: Callable[[ModuleType], list[Any]]) -> list[Any]:
    """The known bugs ``find`` reads from the diagnosis module (none where it is not shipped)."""
    bugs = known_bugs()
    return find(bugs) if bugs else []


def helper_matches(known_bugs: HelperBugs | None, got: torch.Tensor, args: tuple[Any, ...]) -> list[Any]:
    """The known bugs of a helper (``known_bugs(*args)``) that reproduce ``got``; none when it has none."""
    if known_bugs is None:
        return []
    return _explain(lambda bugs: bugs.all_matches(got, known_bugs(*args), *args))


def raise_failures(failures: list[Failure], total: int) -> None:
    """Fail with the first failure, the count, and the bug that best explains all of them.

    The bug named is one that reproduces the first failure, the one the message shows: a bug found
    on another input is never attached to it.
    """
    if not failures:
        return
    bugs = known_bugs()
    first = failures[0]
    others = [f.candidates for f in failures[1:] if f.candidates]
    bug = bugs.consistent_bug([first.candidates, *others]) if bugs and first.candidates else None
    count = f"Wrong on {len(failures)} of {total} inputs. First: " if total > 1 else ""
    hint = bug.message() if bug else "" if bugs else NO_DIAGNOSIS
    raise GradingFailure(f"{count}{first.call} {first.problem}." + (f" {hint}" if hint else ""))


def self_attention_failure(
    section: SectionAPI, case: Case, tolerance: float, seed: int, device: str | None = None
) -> Failure | None:
    """Run one case through the student's self_attention and judge it against the oracle."""
    q, k, v = case.inputs(seed)
    got = call_from_scratch(
        section, "self_attention", (q, k, v), {"n_heads": case.n_heads, "causal": case.causal}, device=device
    )
    want = reference_self_attention(q, k, v, case.n_heads, case.causal)
    where = f" on {device}" if device else ""
    return judge(
        f"self_attention({case.describe()}){where}",
        got,
        want,
        tolerance,
        lambda wrong: _explain(
            lambda bugs: bugs.self_attention_matches(wrong, q, k, v, case.n_heads, case.causal)
        ),
        dtype=q.dtype,
    )


def check_self_attention_cases(
    section: SectionAPI, cases: list[Case], tolerance: float, seed: int, devices: list[str | None]
) -> None:
    """Fail with the first failing case (and how many failed) over ``cases``, each judged on ``devices``
    (``on_devices``)."""
    failures = [
        failure
        for case in cases
        if (failure := on_devices(partial(self_attention_failure, section, case, tolerance, seed), devices))
        is not None
    ]
    raise_failures(failures, len(cases))


def helper_failure(
    section: SectionAPI,
    name: str,
    args: tuple[Any, ...],
    want: torch.Tensor,
    tolerance: float,
    shown: str,
    known_bugs: HelperBugs | None = None,
) -> Failure | None:
    """Call helper ``name`` on ``args`` and judge the result against ``want``, on the run's devices.

    ``known_bugs``, declared beside the helper's check, names the likely bug of a wrong result; without
    it the failure says only where the result is wrong.
    """

    def attempt(device: str | None) -> Failure | None:
        got = call_from_scratch(section, name, args, device=device)
        return judge(
            f"{name}({shown})", got, want, tolerance, lambda wrong: helper_matches(known_bugs, wrong, args)
        )

    return on_devices(attempt, run_devices(section))
