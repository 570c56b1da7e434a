"""The one sanitiser: every student-controlled string passes through `clean` before it reaches a sink.

Student-controlled text is everywhere a grader writes: a heading or a file name in an intake note, an
exception message from the student's process, the lines that process prints, a display name in the
class's export. Each sink has its own hazard:

- a terminal (`grade`'s score table and notes, `batch`'s progress lines): escape sequences clear the
  screen, write the clipboard (OSC 52) or rewrite what the instructor sees ("All tests passed"), and a
  lone surrogate (`\\udc80`, from a `.ipynb` or a file name that is not UTF-8) makes ``print`` raise;
- the instructor log: a line the student's process prints could pass for one of the grader's own;
- results.json: Gradescope shows its text to students and staff, and strict JSON readers refuse lone
  surrogates;
- a CSV cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
  spreadsheet programs (`=HYPERLINK(...)`): such cells get a leading apostrophe, shown as text;
- report.md: Markdown and HTML would render (links, images, tables broken by `|`).

`clean` removes what no sink may receive: control characters (C0 but tab and newline, DEL, C1) and
whole escape sequences become `?`, carriage returns and the Unicode line separators become newlines,
the bidirectional controls that reorder what is shown become `?`, lone surrogates and bytes that are
not UTF-8 become U+FFFD. It never raises, whatever it is given. Each sink's form below starts from it:
``one_line`` (a terminal's lines, the score table's cells), ``csv_cell``, ``markdown_text``, ``clean_tree``
(results.json), ``quoted`` and ``LogFormatter`` (the instructor log), and ``tolerant_streams`` makes
printing to a terminal that cannot show a character replace it instead of raising.
"""

from __future__ import annotations

import html
import logging
import re
import sys
from typing import Any

#: An escape sequence as terminals read it: CSI (ESC [ or 0x9B) up to its final byte; OSC, DCS, SOS,
#: PM and APC (ESC ] P X ^ _, or their 8-bit forms) up to BEL or ST, or to the end of the line when
#: unterminated; any other ESC with the character after it.
ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[\s\S]?"
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
NEWLINES = re.compile(r"\r\n?|[\u2028\u2029]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#!|~])")
#: What starts every line of a log record after its first: no student text can start a log line.
LOG_CONTINUATION = "    | "
#: What starts every line the student's process printed, inside its log record.
QUOTE = "> "


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a hostile __str__ must not stop a sink
        return f"<unprintable {type(value).__name__}>"


def clean(value: object) -> str:
    """`value` as text every sink may receive (see the module's docstring); keeps tabs and newlines."""
    text = SURROGATE.sub(REPLACEMENT, _text(value))
    text = ESCAPE_SEQUENCE.sub("?", NEWLINES.sub("\n", text))
    return CONTROL.sub("?", text)


def one_line(value: object) -> str:
    """`clean`, on one line: each newline and tab becomes a space."""
    return clean(value).replace("\n", " ").replace("\t", " ")


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as the text it is, never as a formula."""
    text = clean(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def markdown_text(value: object) -> str:
    """Text that renders literally on one line of Markdown (tables included), with no HTML."""
    flat = " ".join(clean(value).split())
    return html.escape(MARKDOWN_SPECIAL.sub(r"\\\1", flat), quote=False)


def clean_tree(value: Any) -> Any:
    """A JSON-like tree (results.json) with every string in it, keys included, ``clean``."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(key): clean_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_tree(item) for item in value]
    return value


def quoted(text: object) -> str:
    """Text the student's process wrote, for the log: each line cleaned and quoted with ``QUOTE``."""
    return "\n".join(QUOTE + line for line in clean(text).split("\n"))


class LogFormatter(logging.Formatter):
    """The instructor log's format: every record cleaned, and every line after its first indented with
    ``LOG_CONTINUATION``, so that only the grader's own format starts a line of the log."""

    def format(self, record: logging.LogRecord) -> str:
        first, *rest = clean(super().format(record)).split("\n")
        return "\n".join([first, *(LOG_CONTINUATION + line for line in rest)])


def tolerant_streams() -> None:
    """Make standard output and error replace what their encoding cannot show instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
