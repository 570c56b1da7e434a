"""Student-controlled text made harmless where it lands in staff artefacts.

Names, emails, folder names and feedback messages all come from students (a display name is whatever
the student typed into Gradescope). Each artefact has its own hazard:
- a CSV cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
  spreadsheet programs (`=HYPERLINK(...)`); such cells get a leading apostrophe, which spreadsheets
  show as text and never evaluate;
- in report.md, Markdown and HTML would render (links, images, tables broken by `|`);
- on a terminal, control characters and escape sequences can rewrite what the instructor sees.
"""

from __future__ import annotations

import html
import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#!|~])")


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as the text it is, never as a formula."""
    text = CONTROL.sub(" ", text.replace("\r\n", "\n")).replace("\r", " ")
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def markdown_text(text: str) -> str:
    """Text that renders literally on one line of Markdown (tables included), with no HTML."""
    flat = " ".join(CONTROL.sub(" ", text).split())
    return html.escape(MARKDOWN_SPECIAL.sub(r"\\\1", flat), quote=False)


def terminal_text(text: str) -> str:
    """Text printed on the instructor's terminal: control characters shown as `?`."""
    return CONTROL.sub("?", text.replace("\n", " ").replace("\t", " "))
