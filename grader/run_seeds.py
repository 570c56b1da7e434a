"""The seeds of one grading run, all drawn from its secret.

Hidden tests draw their inputs from a secret chosen per run (``--seed`` replays one), by keyed hashing
of the test and the purpose: one seed, even with the test's name, tells nothing of the secret or of
any other seed. The student's process is seeded before each call: for a public test with a seed fixed
by the test's number (a student sees the same run on their machine), for a hidden one with a seed of
its own purpose, so that no RNG state the student's code can read tells it a hidden test's inputs.
"""

from __future__ import annotations

import hmac
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class RunSeeds:
    """The run's secret, and every seed derived from it."""

    secret: int

    def hidden(self, test: str | None, purpose: str = "") -> int:
        """A seed for `test`'s `purpose` that only the secret determines."""
        key = self.secret.to_bytes(16, "big", signed=True)
        message = f"{test}:{purpose}".encode()
        return int.from_bytes(hmac.digest(key, message, "sha256")[:4], "big") & 0x7FFFFFFF

    def student_process(self, test: str | None, visibility: str) -> int:
        """What the student's process is seeded with for a call of `test`: fixed for a public test,
        drawn from the secret for a hidden one."""
        if visibility == "hidden":
            return self.hidden(test, "student process")
        return zlib.crc32((test or "").encode()) & 0x7FFFFFFF
