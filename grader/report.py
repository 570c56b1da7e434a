"""The score table printed after a run: one line a test, the first line of its message, a total."""

from __future__ import annotations

from typing import Any


def _cell(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def score_table(results: dict[str, Any], width: int = 110) -> str:
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
    maximum = sum(test["max_score"] for test in tests)
    bonus = sum(test.get("extra_data", {}).get("points", 0) for test in tests if test["max_score"] == 0)
    total = f"{results['score']:g}/{maximum:g}" + (f" (extra credit possible: {bonus:g})" if bonus else "")
    lines += ["-" * width, f"{'total':<7} {'':<{name_width}} {total}".rstrip()]
    output = results.get("output", "").strip()
    if output:
        lines += ["", output]
    return "\n".join(lines)
