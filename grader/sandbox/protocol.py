"""The grader <-> child protocol, declared once: the launch spec, every request, every reply, every error.

Three programs speak it: the trusted side (grader/student_section.py, through grader/sandbox/process.py),
the launcher (grader/sandbox/launch.py, which reads the launch spec) and the child runtime
(grader/sandbox/child.py, which answers the requests). Each builds and reads these types, and the trusted
side's reply validator (grader/replies.py) is derived from the reply types below, field by field, so the two
ends cannot drift apart: a field or an error kind added here is one the validator checks at once.

Messages cross as one JSON header plus a safetensors blob (grader/sandbox/wire.py); ``value``,
``args``, ``kwargs``, ``params`` and ``cotangent`` hold wire trees, which ``wire.decode`` validates.

The child is the student's process: anything in it can be replaced, so a reply is only ever a claim
that must fit these types. Error kinds say whose the condition is: ``missing``, ``not_implemented``
and ``raised`` are the student's code; ``bad_value`` is a value of theirs that cannot cross; ``grader``
is a condition of ours (CUDA requested where the child has none, an operation it does not know),
which the trusted side reports as an internal error, never as the student's fault.

This module imports only the standard library: the launcher and the child read it before anything else.
Its annotations are evaluated when each class is made (no ``from __future__ import annotations``):
that is when TypedDict reads which keys are ``NotRequired``.
"""

from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, TypedDict


@dataclass(frozen=True)
class MaxLength:
    """The longest string a field may hold (``Annotated[str, MaxLength(n)]``)."""

    characters: int


@dataclass(frozen=True)
class Bounds:
    """The range an integer field may take (``Annotated[int, Bounds(low, high)]``, high excluded)."""

    low: int
    high: int


#: The environment of the child also carries settings of the section it loads: the links that lead a
#: notebook's own loading cells to the profile's model and data (JSON {name: folder}; child.py makes
#: them) and the library version the course's students wrote against (library_versions.py).
STAND_INS_VARIABLE = "A2_STAND_INS"
STUDENTS_LIBRARIES_VARIABLE = "A2_STUDENTS_TRANSFORMERS"

#: A name: of a student function or value, an exception type, a driver target.
Name = Annotated[str, MaxLength(200)]
#: A message written by the child (already shortened there, see child.py's MAX_MESSAGE).
Text = Annotated[str, MaxLength(4000)]
#: A line number of the student's file.
Line = Annotated[int, Bounds(0, 10**7)]
#: Where a tensor of a reply was, e.g. "cpu" or "cuda:0".
Device = Annotated[str, MaxLength(64)]
#: The request's id, which only the grader's code in the child knows (see child.py).
RequestId = Annotated[str, MaxLength(64)]
#: A wire tree (grader/sandbox/wire.py); wire.decode checks it.
WireTree = Any


class LaunchSpec(TypedDict):
    """What launch.py is told: who to become, what to limit, what the child's root holds."""

    uid: int
    gid: int
    cpu_seconds: int
    memory_bytes: int
    file_bytes: int
    block_network: bool
    namespaces: bool
    #: An empty folder that becomes the child's root when a mount namespace can be made.
    new_root: str
    #: Folders bound read-only into that root, and what each is (the report names only the labels).
    readable: list[str]
    readable_labels: list[str]
    #: Folders bound writable (the child's scratch folder).
    writable: list[str]
    #: The pipe the launcher writes its confinement report to.
    report_fd: int
    #: Descriptors the launcher closes once the namespace's first process runs.
    close_in_launcher: list[int]


# ---------------------------------------------------------------------------------------------- requests


class UnitSpec(TypedDict):
    """One kept top-level statement (grader.intake.slicer.Unit) as the child executes it."""

    lineno: int
    source: str
    binds: list[str]
    #: "import", "definition" or "statement": an import that fails binds placeholders (child.py).
    kind: str


class LoadRequest(TypedDict):
    """Execute the kept statements of the student's file in the child's `student` module."""

    op: Literal["load"]
    id: str
    filename: str
    units: list[UnitSpec]


class CallRequest(TypedDict):
    """Call the student's function ``name(*args, **kwargs)``; the grader's own options stay apart."""

    op: Literal["call"]
    id: str
    name: str
    args: WireTree
    kwargs: WireTree
    #: Where the tensors of the arguments go before the call (None: stay on the CPU).
    device: str | None
    #: What torch, numpy and random are seeded with before the call.
    seed: int
    #: With a cotangent (a wire tree), the reply's value is {"output": ..., "grads": [...]}.
    cotangent: WireTree
    #: The two canary values of the operator recorder (grader/sandbox/op_recorder.py), or None.
    record: list[float] | None


class GetRequest(TypedDict):
    """Read a top-level value of the student's module."""

    op: Literal["get"]
    id: str
    name: str


class RunRequest(TypedDict):
    """Run our driver ``module:function(student_module, **params)`` beside the student's code."""

    op: Literal["run"]
    id: str
    target: str
    params: WireTree
    seed: int


class ByeRequest(TypedDict):
    """Leave: the child returns from its loop and exits."""

    op: Literal["bye"]


Request = LoadRequest | CallRequest | GetRequest | RunRequest | ByeRequest


# ------------------------------------------------------------------------------------------------ errors


class StudentError(TypedDict):
    """The student's code raised: ``not_implemented`` for NotImplementedError, ``raised`` for the rest."""

    kind: Literal["not_implemented", "raised"]
    #: The function asked for (for not_implemented, the student's function that raised, when known).
    name: Name
    type: Name
    message: Text
    #: The student's line and function where it raised, when the traceback reaches their file.
    lineno: NotRequired[Line | None]
    function: NotRequired[Name]


class LoadFailure(StudentError):
    """A kept statement that raised while loading, and the names it would have bound."""

    binds: list[Name]


class MissingError(TypedDict):
    """The student's module does not bind ``name``; ``cause`` is the load failure that would have."""

    kind: Literal["missing"]
    name: Name
    cause: LoadFailure | None


class BadValueError(TypedDict):
    """The student's value could not be encoded for the wire (a container that raises, for one)."""

    kind: Literal["bad_value"]
    message: Text


class GraderError(TypedDict):
    """A condition of ours in the child (CUDA requested but unavailable, an unknown operation)."""

    kind: Literal["grader"]
    message: Text


#: Every error a reply may carry; its ``kind`` says which.
Error = StudentError | MissingError | BadValueError | GraderError


# ----------------------------------------------------------------------------------------------- replies


class LoadReply(TypedDict):
    """The kept statements ran; those that raised are listed (each costs only what it binds)."""

    id: RequestId
    ok: Literal[True]
    failures: list[LoadFailure]


class ValueReply(TypedDict):
    """A call, get or run that returned: its value as a wire tree, and where its tensors were."""

    id: RequestId
    ok: Literal[True]
    value: WireTree
    devices: list[Device]
    #: What the operator recorder saw, for a call with ``record`` (grader.integrity.verify_recording).
    recorded: NotRequired[Any]


class ErrorReply(TypedDict):
    """A request that failed, and whose condition that was (see the error kinds above)."""

    id: RequestId
    ok: Literal[False]
    error: Error


Reply = ValueReply | ErrorReply
