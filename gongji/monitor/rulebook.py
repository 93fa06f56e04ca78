"""Every monitoring rule, registered: import this module to have `RULES` complete."""

from __future__ import annotations

from collections.abc import Sequence

from gongji.monitor import history_rules, line_rules  # noqa: F401  (register the checkers)
from gongji.monitor.checkers import RULES, Context, Finding
from gongji.monitor.claims import Claim


def check_claim(claim: Claim, history: Sequence[Claim], context: Context,
                rules: Sequence[str] | None = None) -> list[Finding]:
    """Every finding of the registered rules (or of `rules`) on `claim`, in rule order, then line order."""
    found: list[Finding] = []
    for name in rules or RULES:
        found.extend(RULES[name].check(claim, history, context))
    return found
