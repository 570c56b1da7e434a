"""The instructors' summary of a batch (report.md beside totals.png and sections.png), headed by the
course it graded for: statuses, the students to look at (missing notebooks, untouched templates,
integrity flags, below the threshold, late against `--due`, not graded), the score distribution per
test, where the class got stuck, and histograms of the totals and of each section.

Failure messages are grouped by their first line with the numbers blanked out, which is where every
check states what went wrong; the most frequent kinds show at a glance which mistake cost the class
the most points.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from pathlib import Path

from grader import errors
from grader.batch.grades import STATUSES, UNTOUCHED, GradeRow
from grader.batch.lateness import Deadlines
from grader.sanitise import markdown_text
from grader.table import AssignmentTable, TestRow

HISTOGRAM_FILE = "totals.png"
SECTIONS_FILE = "sections.png"
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


def _figure(columns: int):
    """An off-screen figure (batches run on servers) with `columns` side-by-side axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, columns, figsize=(max(7, 4 * columns), 3.5), squeeze=False)
    return plt, figure, list(axes[0])


def _histogram(axes, scores: list[float], maximum: float, label: str) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.hist(scores, bins=20, range=(0, max([maximum, *scores, 1.0])), color="#3b6ea5", edgecolor="white")
    axes.set_xlabel(label)
    axes.set_ylabel("submissions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def write_histogram(path: Path, totals: list[float], max_total: float) -> None:
    """A histogram of the graded submissions' totals."""
    plt, figure, (axes,) = _figure(1)
    _histogram(axes, totals, max_total, f"total score (maximum {max_total:g}, extra credit on top)")
    axes.set_title(f"Totals of {len(totals)} graded submissions")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_section_histograms(
    path: Path, rows: list[GradeRow], table: AssignmentTable, graded: list[TestRow]
) -> None:
    """One histogram per graded section, side by side."""
    sections = sorted({test.section for test in graded})
    plt, figure, axes = _figure(len(sections))
    for number, ax in zip(sections, axes, strict=True):
        maximum = sum(test.max_score for test in graded if test.section == number)
        scores = [row.section_score(number, graded) or 0.0 for row in rows]
        _histogram(ax, scores, maximum, f"points (maximum {maximum:g})")
        ax.set_title(f"§{number} {table.sections[number].title}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _distribution(scores: list[float]) -> str:
    counts = Counter(scores)
    return ", ".join(f"{score:g}: {counts[score]}" for score in sorted(counts))


def _who(row: GradeRow) -> str:
    return f"{markdown_text(row.submission.id)} | {markdown_text(row.submission.names)}"


def _missing_notebooks(row: GradeRow, table: AssignmentTable, graded: list[TestRow]) -> list[str]:
    sections = sorted({test.section for test in graded})
    return [
        table.sections[number].file
        for number in sections
        if all(
            row.tests.get(test.number) and row.tests[test.number].status == errors.NO_FILE
            for test in graded
            if test.section == number
        )
    ]


def _late(row: GradeRow, deadlines: Deadlines) -> str:
    """How late a submission was, per submitter when their due dates differ ("" when on time)."""
    hours = {deadlines.hours_late(row.submission.submitted_at, person) for person in row.people}
    return ", ".join(f"{late:g}" for late in sorted(h for h in hours if h)) if any(hours) else ""


def _look_at(
    rows: list[GradeRow], table: AssignmentTable, graded: list[TestRow], below: float, deadlines: Deadlines
) -> list[str]:
    """The tables of students to look at, each under its heading (nothing for an empty one)."""
    base_max = sum(test.max_score for test in graded)
    groups = [
        (
            "Missing notebooks",
            "missing",
            [(row, ", ".join(_missing_notebooks(row, table, graded))) for row in rows if row.graded],
        ),
        ("Untouched templates", "status", [(row, row.status) for row in rows if row.status == UNTOUCHED]),
        (
            "Integrity flags (what could touch a verdict)",
            "flag",
            [(row, row.results.integrity) for row in rows],
        ),
        (
            "Constructs noted (they cost nothing: no answer reaches them, or they forge nothing)",
            "noted",
            [(row, row.results.noted) for row in rows],
        ),
        (
            f"Below {below:g} of {base_max:g} base points",
            "base points",
            [(row, f"{row.base:g}") for row in rows if row.graded and row.base < below],
        ),
        ("Late (no penalty applied)", "hours late", [(row, _late(row, deadlines)) for row in rows]),
        (
            "Not graded: look at these by hand",
            "status: why",
            [(row, f"{row.status}: {row.outcome.message}") for row in rows if not row.graded],
        ),
    ]
    lines = []
    for title, column, entries in groups:
        entries = [(row, text) for row, text in entries if text]
        if not entries:
            continue
        lines += [f"## {title} ({len(entries)})", "", f"| submission | names | {column} |", "|---|---|---|"]
        lines += [f"| {_who(row)} | {markdown_text(text)} |" for row, text in entries]
        lines.append("")
    return lines


def render_report(
    rows: list[GradeRow],
    table: AssignmentTable,
    graded: list[TestRow],
    below: float,
    deadlines: Deadlines | None = None,
) -> str:
    """The markdown report (the histograms are referenced by their file names)."""
    statuses = Counter(row.status for row in rows)
    finished = [row for row in rows if row.graded]
    totals = [row.total for row in finished]
    max_total = sum(test.max_score for test in graded)
    lines = [f"# {table.title}, {table.assignment.course}: batch grading report", ""]
    lines.append(
        f"{len(rows)} submissions: " + ", ".join(f"{statuses[status]} {status}" for status in STATUSES) + "."
    )
    if totals:
        lines.append(
            f"Totals of the graded ones (maximum {max_total:g}, extra credit on top): "
            f"mean {statistics.mean(totals):.2f}, median {statistics.median(totals):g}, "
            f"min {min(totals):g}, max {max(totals):g}."
        )
    lines += [
        "",
        f"![Histogram of totals]({HISTOGRAM_FILE})",
        "",
        f"![Histograms per section]({SECTIONS_FILE})",
        "",
    ]
    lines += _look_at(rows, table, graded, below, deadlines or Deadlines())
    lines += ["## Score distribution per test", ""]
    lines.append("| test | name | points | mean | full marks | zero | scores (score: submissions) |")
    lines.append("|---|---|---|---|---|---|---|")
    for test in graded:
        scores = [row.tests[test.number].score for row in finished if test.number in row.tests]
        name = markdown_text(test.name)
        if not scores:
            lines.append(f"| {test.number} | {name} | {test.points:g} | – | – | – | – |")
            continue
        full = sum(score >= test.points for score in scores)
        zero = sum(score == 0 for score in scores)
        lines.append(
            f"| {test.number} | {name} | {test.points:g} | {statistics.mean(scores):.2f} "
            f"| {full}/{len(scores)} | {zero}/{len(scores)} | {_distribution(scores)} |"
        )
    lines += ["", "## Where the class got stuck", ""]
    stuck = [(test, common_failures(finished, test.number)) for test in graded]
    stuck = [(test, messages) for test, messages in stuck if messages]
    if not stuck:
        lines.append("No test failed.")
    for test, messages in stuck:
        lines.append(f"**{test.number} {markdown_text(test.name)}**")
        lines.append("")
        lines += [f"- {count}× {markdown_text(message)}" for message, count in messages]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_report(
    out_dir: Path,
    rows: list[GradeRow],
    table: AssignmentTable,
    graded: list[TestRow],
    below: float,
    deadlines: Deadlines | None = None,
) -> Path:
    """Writes report.md, totals.png and sections.png into `out_dir`; returns the report's path."""
    totals = [row.total for row in rows if row.graded]
    write_histogram(out_dir / HISTOGRAM_FILE, totals, sum(test.max_score for test in graded))
    write_section_histograms(out_dir / SECTIONS_FILE, [row for row in rows if row.graded], table, graded)
    path = out_dir / "report.md"
    path.write_text(render_report(rows, table, graded, below, deadlines), encoding="utf-8")
    return path
