"""The largest intake a submission can force, in seconds (grader/intake/limits.py).

Intake runs in the trusted process before any test's time limit starts, so what a submission can make
it cost is a figure of its own. Measured two ways:

1. one file of each hostile kind, at the size limit, read alone under the whole deadline
   (normalising, tolerant parsing, slicing): the seconds each takes, which the linear parts keep near
   a plain parse of the same size, and the deadline bounds where they cannot;
2. the worst submission: every notebook uploaded as MAX_COMPARED candidates of the slowest kind plus a
   graded one of the same kind, through GradingSession.start (the private copy, discovery and reading
   every section): the whole step in seconds, against the table's `intake_timeout`, which bounds it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from grader.intake.discover import MAX_COMPARED
from grader.intake.limits import MAX_LINE_CHARS, MAX_SOURCE_CHARS, IntakeClock, IntakeError
from grader.intake.sections import read_section
from grader.session import GradingSession
from grader.table import load_table


def _fill(unit: str) -> str:
    """`unit` repeated up to the text limit."""
    return unit * ((MAX_SOURCE_CHARS - 100) // len(unit))


KINDS = {
    "valid definitions": _fill("def f(x):\n    return x + 1\n\n"),
    "broken one-line chunks": _fill("broken = )\n\n"),
    "unclosed brackets": _fill("unclosed = (\n\n"),
    "valid, one broken chunk at the end": _fill("def f(x):\n    return x + 1\n\n")[:-40] + "\n\nx = (\n",
    "long lines": _fill("x = '" + "a" * (MAX_LINE_CHARS + 10) + "'\n\n"),
    "deep expressions": _fill("x = " + "+".join(["1"] * 300) + "\n\n"),
    "holder chains": "import torch\n" + "".join(f"h{i} = [h{i - 1}]\n" for i in range(1, 25_000)),
    "in-place updates of a wide reach": "".join(f"a{i} = {i}\n" for i in range(2000))
    + "a0 += 1\n" * 55_000
    + "y = "
    + "+".join(f"a{i}" for i in range(2000))
    + "\n"
    + "def self_attention(Q, K, V, n_heads=1, causal=True):\n    return y\n",
    "headings over long spaces": _fill("## a" + " " * 5000 + "b\n"),
}


def _read_one(text: str, folder: Path) -> tuple[float, str]:
    """Seconds to read one file as the only one of a submission (its share: the whole deadline)."""
    path = folder / "A2S2.py"
    path.write_text(text)
    table = load_table()
    clock = IntakeClock(table.sandbox.intake_timeout)
    clock.expect(1)
    started = time.perf_counter()
    try:
        with clock.reading(path.name):
            read_section(path, "A2S2", table.answers(2), (2, 1), {})
        outcome = "read"
    except IntakeError as error:
        outcome = f"unreadable: {str(error)[:70]}"
    return time.perf_counter() - started, outcome


def _worst_submission(text: str, folder: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of the whole intake step (GradingSession.start) for the worst upload."""
    table = load_table()
    for section in table.sections.values():
        for copy in range(MAX_COMPARED + 1):
            (folder / f"{section.file} ({copy}).py").write_text(text)
    session = GradingSession(folder, table, table.profile("offline"), protect=())
    started, cpu = time.perf_counter(), time.process_time()
    session.start()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    session.close()
    return seconds, cpu


def main() -> None:
    worst, slowest = 0.0, ""
    for name, text in KINDS.items():
        with tempfile.TemporaryDirectory() as folder:
            seconds, outcome = _read_one(text, Path(folder))
        print(f"intake: one file, {name} ({len(text) / 1e6:.1f} MB): {seconds:.2f} s ({outcome})")
        if seconds > worst:
            worst, slowest = seconds, name
    limit = load_table().sandbox.intake_timeout
    with tempfile.TemporaryDirectory() as folder:
        seconds, cpu = _worst_submission(KINDS[slowest], Path(folder))
    files = 3 * (MAX_COMPARED + 1)
    print(
        f"intake: the largest a submission can force ({files} files of the slowest kind, {slowest}): "
        f"{seconds:.1f} s, {cpu:.1f} s of CPU (intake_timeout {limit:g} s)"
    )


if __name__ == "__main__":
    main()
