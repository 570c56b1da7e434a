"""The score table printed after a run: one line a test, the first line of its message, a total, and
the course the run graded for (results.json's `extra_data.course`).

Every message and note in it is student-controlled in part, so each goes through the one sanitiser
(grader/sanitise.py) before it reaches the terminal.
"""

from __future__ import annotations

from typing import Any

from grader.sanitise import clean


def _cell(text: str, width: int) -> str:
    text = " ".join(clean(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def score_table(results: dict[str, Any], width: int = 110, output_last: bool = True) -> str:
    """The table; the run's own output (files graded, notes on them) follows unless `output_last` is off."""
    tests = results["tests"]
    name_width = 44
    message_width = max(20, width - name_width - 26)
    lines = [f"{'test':<7} {'name':<{name_width}} {'score':>11}  {'':6} why", "-" * width]
    for test in tests:
        extra = test.get("extra_data", {})
        maximum = f"+{extra['points']:g}" if extra.get("extra_credit") else f"{test['max_score']:g}"
        score = f"{test['score']:g}/{maximum}"
        status = "ok" if test["status"] == "passed" else "FAILED"
        why = test.get("output", "").strip().splitlines()
        lines.append(
            f"{test.get('number', ''):<7} {_cell(test['name'], name_width):<{name_width}} {score:>11}  "
            f"{status:6} {_cell(why[0] if why else '', message_width)}"
        )
    course = results.get("extra_data", {}).get("course")
    total = total_line(tests) + (f"  ({course})" if course else "")
    lines += ["-" * width, f"{'total':<7} {'':<{name_width}} {total}".rstrip()]
    output = clean(results.get("output", "")).strip()
    if output and output_last:
        lines += ["", output]
    return "\n".join(lines)


def total_line(tests: list[dict[str, Any]]) -> str:
    """`10/10 + 2.5 extra credit`: points and extra credit apart, never a score above its maximum."""
    extra = [test for test in tests if test.get("extra_data", {}).get("extra_credit")]
    regular = [test for test in tests if test not in extra]
    text = f"{sum(t['score'] for t in regular):g}/{sum(t['max_score'] for t in regular):g}"
    if extra:
        earned = sum(test["score"] for test in extra)
        possible = sum(test["extra_data"]["points"] for test in extra)
        text += f" + {earned:g} extra credit" + (f" (of {possible:g})" if earned < possible else "")
    return text
