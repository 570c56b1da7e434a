"""Failures a graded check reports to the student.

Every class here carries a message written for the student: the pytest plugin shows it as it is, with
no traceback. Anything else that escapes a check is a grader bug and is reported as one.

Each class also names the test status it stands for (results.json's `extra_data.status`), so that a
class's gradebook can tell an unanswered template from wrong code, a crash, a hang or our own bug.
"""

PASSED = "passed"
FAILED = "failed"
NO_FILE = "no file"
NOT_IMPLEMENTED = "not implemented"
STUDENT_ERROR = "student error"
TIMEOUT = "timeout"
INTERNAL_ERROR = "internal error"
TEST_STATUSES = (PASSED, FAILED, NO_FILE, NOT_IMPLEMENTED, STUDENT_ERROR, TIMEOUT, INTERNAL_ERROR)


class GradingFailure(Exception):
    """A check failed; ``str(self)`` is the student-facing reason."""

    status = FAILED


class StaffSetupFailure(GradingFailure):
    """The grader's own setup kept a test from running (a missing model cache, a GPU profile on a
    machine without a GPU): ours to fix, so its status is "internal error" and a batch regrades it."""

    status = INTERNAL_ERROR


class SectionUnavailable(GradingFailure):
    """The notebook file for a section is missing, cannot be parsed or cannot be loaded."""

    def __init__(self, message: str, status: str = STUDENT_ERROR) -> None:
        super().__init__(message)
        self.status = status


class MissingAnswer(GradingFailure):
    """The submission does not define a name the check needs."""

    def __init__(self, name: str, filename: str, detail: str = "") -> None:
        # A detail that starts in lower case continues the sentence ("… in HW1.py in the part …").
        text = f"`{name}` is not defined in {filename}" + (" " if detail[:1].islower() else ". ")
        super().__init__(f"{text}{detail}".strip())
        self.name = name


class NotImplementedYet(GradingFailure):
    """The student's function still raises NotImplementedError (the template's TODO)."""

    status = NOT_IMPLEMENTED

    def __init__(self, name: str) -> None:
        super().__init__(f"`{name}` is not implemented yet (it still raises NotImplementedError).")
        self.name = name


class NotAnswered(GradingFailure):
    """An answer is still the template's placeholder (`...`)."""

    status = NOT_IMPLEMENTED

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is still `...`: it has not been answered yet (not implemented yet).")
        self.name = name


class StudentRaised(GradingFailure):
    """The student's code raised an exception."""

    status = STUDENT_ERROR

    def __init__(self, name: str, exc_type: str, message: str, where: str = "") -> None:
        location = f" ({where})" if where else ""
        super().__init__(f"`{name}` raised {exc_type}{location}: {message}".rstrip(": "))
        self.name = name
        self.exc_type = exc_type


class StudentTimedOut(GradingFailure):
    """A call into student code passed its deadline and the student process was killed."""

    status = TIMEOUT

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(
            f"`{name}` did not finish within {seconds:g} s and was stopped. "
            "Look for an infinite loop or far more work than the task needs."
        )
        self.name = name


class StudentProcessDied(GradingFailure):
    """The process running the student's code exited while it was being used."""

    status = STUDENT_ERROR

    def __init__(self, name: str, how: str) -> None:
        super().__init__(
            f"The process running your code {how} while running `{name}`. "
            "Code that calls os._exit, sys.exit or exit, or that runs out of memory, ends it."
        )
        self.name = name


class BadValue(GradingFailure):
    """A value came back that cannot be graded (an unsupported type, too large, or malformed)."""


class GraderFault(Exception):
    """A condition of ours met while grading (a check asked for CUDA where the run has none, the child
    did not know an operation): not a GradingFailure, so the plugin reports the test as an internal
    error and logs why, and the student is never blamed."""
