"""The monitoring rules as types (规则): each checker is a pure function of a claim, the member's earlier claims
and the context (knowledge base, the catalogue's item kinds, the region's thresholds), returning findings.

A checker is registered with `@checker(name, codes, cls)`: `codes` maps the item kind (drug, service, material,
or "claim" for a rule about the whole claim) to the national rule code (framework 1.0 GZ/ZB code, or the 2025
edition's name where it has no code), so that a finding carries the national rule it is an instance of. `cls`
is the queue class: 明确违规 (a definite violation of a restriction) or 可疑 (suspicious, for review).

History is the member's claims before this one (oldest first) within the longest window any rule needs; a
checker looks only at what its own window covers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from gongji.monitor.claims import Claim, Line
from gongji.monitor.knowledge import Knowledge

DEFINITE = "明确违规"
"""a definite violation: the claim breaks a restriction of the catalogue or the knowledge base."""
SUSPICIOUS = "可疑"
"""suspicious: a reviewer decides."""
DRUG, SERVICE, MATERIAL, CLAIM = "drug", "service", "material", "claim"


class Finding(NamedTuple):
    """One hit of one rule on one claim (and line)."""

    rule: str
    """the checker's name."""
    code: str
    """the national rule (GZ... code, or the 2025 name)."""
    cls: str
    claim: str
    """the claim's key."""
    line: int | None
    """feedetl_sn of the line, None for a rule about the whole claim."""
    amount: int
    """fen at stake: the line's amount, or the claim's fund payment."""
    evidence: str
    """what triggered it, as "name=value; name=value" (the restriction, the values compared, the earlier claims'
    keys): the same text online and in the batch."""


@dataclass(frozen=True)
class Thresholds:
    """The region's numbers for the rules about frequency (from the policy file's `monitoring` block); retirees
    visit 2.17 x as often, so their thresholds are their own."""

    window_days: int = 30
    visits: Mapping[str, int] = field(default_factory=lambda: {"in_service": 8, "retired": 17})
    purchases: Mapping[str, int] = field(default_factory=lambda: {"in_service": 6, "retired": 13})
    family_people: int = 3
    """most relatives one account pays for within the window."""
    family_payments: int = 10
    """most payments for relatives from one account within the window."""
    max_supply_days: int = 84
    """长处方: the most days of any drug on one prescription."""


class TraceLookup(Protocol):
    """Drug traceability codes (药品追溯码) settled so far, by anyone."""

    def first_settled(self, trace_code: str, claim: Claim) -> str | None:
        """The key of the first claim (by (on, seq)) that settled a line with `trace_code`, if it was settled
        before `claim`; else None."""
        ...


class PayerLookup(Protocol):
    """What a member's account paid for relatives (家庭共济)."""

    def paid_by(self, payer_psn_no: str, claim: Claim) -> Sequence[Claim]:
        """The claims of other members paid from `payer_psn_no`'s account, settled before `claim` by (on, seq),
        oldest first; at least those within 2 x thresholds.window_days of it."""
        ...


@dataclass(frozen=True)
class Context:
    knowledge: Knowledge
    kinds: Mapping[str, str]
    """catalogue code -> list_type (drug, service, material)."""
    thresholds: Thresholds = Thresholds()
    trace_codes: TraceLookup | None = None
    """the traceability codes settled by anyone (trace_twice); without it only a claim's own lines are compared."""
    payer_claims: PayerLookup | None = None
    """what a paying relative's account paid for others (family_account); without it the rule finds nothing."""

    def kind(self, code: str) -> str:
        return self.kinds.get(code, DRUG)


Checker = Callable[[Claim, Sequence[Claim], Context], list[Finding]]


class Rule(NamedTuple):
    name: str
    codes: Mapping[str, str]
    cls: str
    check: Checker
    history_days: int = 0
    """how far back the checker reads the member's claims (0: the claim alone)."""
    apart_by: str | None = None
    """the evidence entry that tells apart the rule's findings on one claim and line (diagnosis: one finding per
    diagnosis); None: at most one finding per claim and line."""


RULES: dict[str, Rule] = {}


def checker(name: str, codes: Mapping[str, str], cls: str, history_days: int = 0,
            apart_by: str | None = None) -> Callable[[Checker], Checker]:
    def register(fn: Checker) -> Checker:
        RULES[name] = Rule(name, codes, cls, fn, history_days, apart_by)
        return fn

    return register


def subject(rule: str, evidence: str) -> str:
    """What tells a finding apart from its rule's other findings on the same claim and line: the value of the
    rule's `apart_by` evidence entry ("" for a rule with one finding per claim and line)."""
    name = RULES[rule].apart_by
    if name is None:
        return ""
    return next((value for key, _, value in (part.partition("=") for part in evidence.split("; ")) if key == name),
                "")


def line_finding(rule: str, claim: Claim, line: Line, context: Context, **evidence: object) -> Finding:
    """A finding on one line, under the national code for the line's item kind."""
    spec = RULES[rule]
    kind = context.kind(line.code)
    code = spec.codes.get(kind) or next(iter(spec.codes.values()))
    return Finding(rule, code, spec.cls, claim.key, line.sn, line.amount,
                   evidence_text({"code": line.code, **evidence}))


def claim_finding(rule: str, claim: Claim, **evidence: object) -> Finding:
    spec = RULES[rule]
    return Finding(rule, spec.codes.get(CLAIM) or next(iter(spec.codes.values())), spec.cls, claim.key, None,
                   claim.fund_paid, evidence_text(evidence))


def evidence_text(evidence: Mapping[str, object]) -> str:
    """{"code": "X1", "age": 3} -> "code=X1; age=3" (in the order given)."""
    return "; ".join(f"{k}={v}" for k, v in evidence.items())


