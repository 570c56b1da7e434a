"""The one sanitiser (grader/sanitise.py): what reaches a terminal, the log, results.json or a CSV."""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

import pytest

from grader.results import build_results, write_results
from grader.sanitise import (
    LOG_CONTINUATION,
    QUOTE,
    LogFormatter,
    clean,
    clean_tree,
    csv_cell,
    markdown_text,
    one_line,
    quoted,
    tolerant_streams,
)
from grader.score_table import score_table
from grader.table import load_table

HOSTILE = [
    "clear \x1b[2J\x1b[H screen",
    "clipboard \x1b]52;c;cm0gLXJmIH4=\x07 write",
    "title \x1b]0;pwned\x1b\\ set",
    "eight-bit \x9b31m CSI",
    "fake \r All tests passed",
    "lone \udc80 surrogate",
    "bidi \u202e reversed",
    "bell \x07 and NUL \x00",
    "unterminated \x1b]8;;http://evil.example",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_clean_leaves_no_control_character_escape_or_surrogate(text: str):
    cleaned = clean(text)
    assert not any(ord(c) < 32 and c not in "\n\t" or 0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in cleaned)
    assert "\u202e" not in cleaned
    cleaned.encode("utf-8")  # never raises
    assert text.split()[0] in cleaned, "the readable text stays"


def test_clean_reads_anything_without_raising():
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert clean(b"bytes \xff\xfe not UTF-8") == "bytes \ufffd\ufffd not UTF-8"
    assert clean(Hostile()) == "<unprintable Hostile>"
    assert clean("a\r\nb\rc\u2028d") == "a\nb\nc\nd"


def test_each_sink_has_its_form():
    assert one_line("  two\nlines\tand a tab") == "  two lines and a tab"
    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_cell("\x1b[2J=1") == "?=1"
    assert markdown_text("<b>|x|</b>\n\x1b[31m") == "&lt;b&gt;\\|x\\|&lt;/b&gt; ?"
    assert clean_tree({"a\udc80": ["\x1b[2J", 1, None, {"k": "v\x00"}]}) == {
        "a\ufffd": ["?", 1, None, {"k": "v?"}]
    }


def test_every_line_of_the_log_after_a_record_s_first_is_marked_and_the_child_s_is_quoted():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogFormatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("test-sanitise")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        fake = "2026-01-01 00:00:00,000 INFO section 1: all tests passed\x1b[2J"
        logger.warning("output:\n%s", quoted(f"{fake}\nsecond \udc80 line"))
    finally:
        logger.removeHandler(handler)
    first, *rest = stream.getvalue().rstrip("\n").split("\n")
    assert "WARNING output:" in first
    assert rest == [
        f"{LOG_CONTINUATION}{QUOTE}2026-01-01 00:00:00,000 INFO section 1: all tests passed?",
        f"{LOG_CONTINUATION}{QUOTE}second \ufffd line",
    ]


def test_results_json_and_the_score_table_carry_no_hostile_text(tmp_path: Path):
    rows = load_table().select({1})
    results = build_results(rows, {}, "\n".join(HOSTILE), 1.0, missing_reason="\n".join(HOSTILE))
    written = write_results(tmp_path / "results.json", results)
    text = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert "\\u001b" not in text and "\\udc80" not in text and "\\u009b" not in text
    assert json.loads(text) == written
    table = score_table(results)
    assert clean(table) == table


def test_printing_to_a_terminal_that_cannot_show_a_character_never_raises(monkeypatch):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stream)
    tolerant_streams()
    print("accents é and a surrogate \udc80")
    stream.flush()
    assert raw.getvalue() == b"accents \\xe9 and a surrogate \\udc80\n"
