"""The instructors' summary of a batch: score distribution per test, where the class got stuck, and a
histogram of totals (report.md beside totals.png).

Failure messages are grouped by their first line with the numbers blanked out, which is where every
check states what went wrong; the most frequent kinds show at a glance which mistake cost the class
the most points.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from pathlib import Path

from grader.batch.grades import GradeRow
from grader.table import TestRow

HISTOGRAM_FILE = "totals.png"
MESSAGES_PER_TEST = 3
MESSAGE_CHARS = 160
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def first_line(output: str) -> str:
    """The first non-empty line of a message, shortened: where every check states what went wrong."""
    for line in output.splitlines():
        if line.strip():
            text = line.strip()
            return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"
    return "(no message)"


def failure_key(output: str) -> str:
    """What groups failure messages: their first line with every number blanked, so "off by 0.26"
    and "off by 0.54" count as one mistake."""
    return NUMBER.sub("#", first_line(output))


def common_failures(rows: list[GradeRow], number: str) -> list[tuple[str, int]]:
    """The most frequent kinds of failure of one test, most frequent first, each shown by an example."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for row in rows:
        result = row.tests.get(number)
        if result is None or result.passed:
            continue
        key = failure_key(result.output)
        counts[key] += 1
        examples.setdefault(key, first_line(result.output))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MESSAGES_PER_TEST]
    return [(examples[key], count) for key, count in ranked]


def write_histogram(path: Path, totals: list[float], max_total: float) -> None:
    """A histogram of the graded submissions' totals (drawn off-screen: batches run on servers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(7, 3.5))
    upper = max([max_total, *totals, 1.0])
    axes.hist(totals, bins=20, range=(0, upper), color="#3b6ea5", edgecolor="white")
    axes.set_xlabel(f"total score (maximum {max_total:g}, extra credit on top)")
    axes.set_ylabel("submissions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(f"Totals of {len(totals)} graded submissions")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _distribution(scores: list[float]) -> str:
    counts = Counter(scores)
    return ", ".join(f"{score:g}: {counts[score]}" for score in sorted(counts))


def render_report(rows: list[GradeRow], graded: list[TestRow], title: str) -> str:
    """The markdown report (the histogram is referenced by its file name)."""
    statuses = Counter(row.outcome.status for row in rows)
    finished = [row for row in rows if row.outcome.status == "ok"]
    totals = [row.total for row in finished]
    max_total = sum(test.max_score for test in graded)
    lines = [f"# {title}: batch grading report", ""]
    lines.append(
        f"{len(rows)} submissions: {statuses['ok']} graded, {statuses['timeout']} timed out, "
        f"{statuses['error']} could not be graded."
    )
    if totals:
        lines.append(
            f"Totals of the graded ones (maximum {max_total:g}, extra credit on top): "
            f"mean {statistics.mean(totals):.2f}, median {statistics.median(totals):g}, "
            f"min {min(totals):g}, max {max(totals):g}."
        )
    lines += ["", f"![Histogram of totals]({HISTOGRAM_FILE})", "", "## Score distribution per test", ""]
    lines.append("| test | name | points | mean | full marks | zero | scores (score: submissions) |")
    lines.append("|---|---|---|---|---|---|---|")
    for test in graded:
        scores = [row.tests[test.number].score for row in finished if test.number in row.tests]
        if not scores:
            lines.append(f"| {test.number} | {_escape(test.name)} | {test.points:g} | – | – | – | – |")
            continue
        full = sum(score >= test.points for score in scores)
        zero = sum(score == 0 for score in scores)
        lines.append(
            f"| {test.number} | {_escape(test.name)} | {test.points:g} | {statistics.mean(scores):.2f} "
            f"| {full}/{len(scores)} | {zero}/{len(scores)} | {_distribution(scores)} |"
        )
    lines += ["", "## Where the class got stuck", ""]
    stuck = [(test, common_failures(finished, test.number)) for test in graded]
    stuck = [(test, messages) for test, messages in stuck if messages]
    if not stuck:
        lines.append("No test failed.")
    for test, messages in stuck:
        lines.append(f"**{test.number} {_escape(test.name)}**")
        lines.append("")
        lines += [f"- {count}× {_escape(message)}" for message, count in messages]
        lines.append("")
    unfinished = [row for row in rows if row.outcome.status != "ok"]
    if unfinished:
        lines += [
            "## Submissions to look at by hand",
            "",
            "| submission | names | status | why |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {row.submission.id} | {_escape(row.submission.names)} | {row.outcome.status} "
            f"| {_escape(row.outcome.message)} |"
            for row in unfinished
        ]
    return "\n".join(lines).rstrip() + "\n"


def write_report(out_dir: Path, rows: list[GradeRow], graded: list[TestRow], title: str) -> Path:
    """Writes report.md and totals.png into `out_dir`; returns the report's path."""
    finished = [row.total for row in rows if row.outcome.status == "ok"]
    write_histogram(out_dir / HISTOGRAM_FILE, finished, sum(test.max_score for test in graded))
    path = out_dir / "report.md"
    path.write_text(render_report(rows, graded, title), encoding="utf-8")
    return path
