"""The headings of an exported notebook: where its sections start, and how students name a cell.

A markdown heading reaches us in one of three shapes, all found line by line in the raw export:

- jupytext, nbconvert and our flattened `.ipynb`: a comment, `# ## 2.2 Experimenting`;
- Colab's "Download .py": a markdown cell as a bare string, `\"\"\"## 2.2 Experimenting` on its first
  line, or `## Step 1` on a later line of the string.

A heading's number is the first `major.minor` at the start of its title (`2.2`, `§2.2`, `Part 2.2`,
`4.2.1` → (4, 2)), each part at most MAX_NUMBER_DIGITS digits: `## 1<5000 nines>.1` has no number.
Code comments such as `# TODO` are not headings: a bare line needs `##` or more (the first line of a
markdown cell carries Colab's quotes or the comment's `# `). Every pattern here is matched once per line
in time linear in the line (no pattern can backtrack over a long run of spaces).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from grader.intake.limits import MAX_NUMBER_DIGITS

HEADING = re.compile(r"^(?:(?:\"\"\"|'''|# ?)#{1,6}|#{2,6})\s+([^\s%].*)$")
CLOSING_QUOTES = ('"""', "'''")
NUMBER = re.compile(
    rf"^(?:§\s*|(?:part|section|problem|question|task|exercise)\s+)?"
    rf"(\d{{1,{MAX_NUMBER_DIGITS}}})\.(\d{{1,{MAX_NUMBER_DIGITS}}})(?!\d)",
    re.IGNORECASE,
)
MAX_TITLE = 70


@dataclass(frozen=True)
class Heading:
    """A markdown heading: the line it is on, its title and its number."""

    lineno: int
    title: str
    number: tuple[int, int] | None


def find_headings(text: str) -> tuple[Heading, ...]:
    """Every heading of an export, in order."""
    found = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        match = HEADING.match(line)
        if not match:
            continue
        title = match.group(1).rstrip()
        if title.endswith(CLOSING_QUOTES):
            title = title[:-3]
        title = title.strip().strip("#* ").strip()
        if not title:
            continue
        number = NUMBER.match(title)
        shown = title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"
        found.append(Heading(lineno, shown, (int(number[1]), int(number[2])) if number else None))
    return tuple(found)


def heading_before(headings: tuple[Heading, ...], lineno: int) -> Heading | None:
    """The nearest heading above `lineno`: what a student sees above that cell in Colab."""
    index = bisect.bisect_right(headings, lineno, key=lambda heading: heading.lineno)
    return headings[index - 1] if index else None
