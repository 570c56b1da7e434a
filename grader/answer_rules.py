"""The rules about how answers are computed, judged on what each answer reaches.

Code that no answer reaches (experiments, `main()`, print helpers) never runs while grading and costs
no point: its constructs are only noted for staff. What an answer reaches is read once, on first use,
for the constructs that can forge a verdict and, where the section declares one, against its allowlist
(grader/reach_rules.py). A broken rule fails the tests that use that answer with a message that
names the code and its line; every problem is flagged for staff (grader/integrity.py).
"""

from __future__ import annotations

from grader.errors import GradingFailure
from grader.intake.limits import on_time
from grader.intake.normalise import Normalised
from grader.intake.slicer import Sliced
from grader.integrity import Flag, IntegrityLog, constructs, module_names
from grader.reach_rules import Allowlist, allowlist_message, allowlist_violations, forging_message


class AnswerRules:
    """The rules of one section's answers: notes on the whole file when made, a verdict per answer."""

    def __init__(
        self,
        number: int,
        normalised: Normalised,
        sliced: Sliced,
        allowlist: Allowlist | None,
        integrity: IntegrityLog,
    ) -> None:
        self.number = number
        self.normalised = normalised
        self.sliced = sliced
        self.allowlist = allowlist
        self.integrity = integrity
        self._problems: dict[str, str | None] = {}
        kept = {id(statement) for statement in sliced.statements}
        modules = module_names(sliced.tree.body)
        for statement in sliced.tree.body:
            on_time()
            reached = id(statement) in kept
            for found in constructs([statement], modules):
                if found.forging and reached:
                    continue  # judged with the answer that reaches it (problem)
                where = "the answers reach" if reached else "no answer reaches"
                kind = "construct" if found.forging else "note"
                integrity.add(
                    [Flag(number, kind, f"{found.what}, in code {where}", normalised.where(found.line))]
                )

    def problem(self, name: str) -> str | None:
        """Why the tests that use answer `name` cannot be graded, or None: what `name` reaches holds a
        construct that can forge a verdict, or something the section's allowlist does not list.
        Computed once per answer; each problem is flagged for staff."""
        if name not in self._problems:
            self._problems[name] = self._judge(name)
        return self._problems[name]

    def require(self, names: tuple[str, ...] | list[str]) -> None:
        """Fail (GradingFailure) when what any of `names` reaches breaks a rule (``problem``)."""
        for name in names:
            found = self.problem(name)
            if found:
                raise GradingFailure(found)

    def _judge(self, name: str) -> str | None:
        reach = self.sliced.reached_by([name])
        forging = [c for c in constructs(reach) if c.forging]
        if forging:
            self._flag(name, [(c.what, c.line) for c in forging])
            return forging_message(name, [f"{c.what} ({self.normalised.where(c.line)})" for c in forging])
        refused = allowlist_violations(reach, self.allowlist) if self.allowlist else []
        if refused:
            self._flag(name, [(f"uses {v.what}", v.line) for v in refused])
            assert self.allowlist is not None
            return allowlist_message(
                name, self.allowlist, [(v.written, v.what, self.normalised.where(v.line)) for v in refused]
            )
        return None

    def _flag(self, name: str, found: list[tuple[str, int]]) -> None:
        self.integrity.add(
            Flag(self.number, "rule", f"{name} reaches code that {what}", self.normalised.where(line))
            for what, line in found
        )
