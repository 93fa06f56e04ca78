"""Ordinary outpatient pooling (普通门诊统筹) for one visit, against the member's year-to-date accumulators.

Order of the rules for a visit's covered amount (政策范围内费用):
1. the deductible (起付标准) is taken first from the covered amount, whatever the cap;
2. the rest is paid at the ratio of the level, member type and age, split by the cost bands of the year's
   cumulative covered cost where the policy has them, and rounded half-up once;
3. the pool pays no more than the cap (最高支付限额) leaves; the covered amount the pool could not pay
   because of the cap is `over_cap_amt`, settled under the inpatient benefit where the policy says so.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple

from gongji.engine.terms import OutpatientTerms
from gongji.money import BP_ONE, div_half_up, half_up_bp

CLINIC = "clinic"
"""定点医疗机构: a designated medical institution."""
PHARMACY = "pharmacy"
"""定点零售药店: a designated retail pharmacy, pooled only on a prescription (外配处方)."""


class Accumulators(NamedTuple):
    """累计: what a member's settlement year has used so far, in fen."""

    deductible: int = 0
    """deductible paid (起付线累计)."""
    pool: int = 0
    """outpatient pool payment (统筹支付累计), against the cap."""
    covered: int = 0
    """covered cost of pooled visits, which places the visit in the cost bands."""
    inpatient: int = 0
    """inpatient-benefit payment of cost above the outpatient cap, against the inpatient cap."""
    inpatient_dedc: int = 0
    """the inpatient benefit's deductible paid by cost above the outpatient cap (once a year)."""


class Adjudication(NamedTuple):
    """The pool's part of one visit, under the national platform's names, in fen (ratio in basis points)."""

    inscp_scp_amt: int
    act_pay_dedc: int
    hifp_pay: int
    pool_prop: int
    over_cap_amt: int
    inpatient_pay: int
    psn_part_amt: int
    """what is left to the member of the covered amount: inscp_scp_amt - hifp_pay - inpatient_pay."""
    accumulators: Accumulators
    inpatient_dedc: int = 0
    """the part of `over_cap_amt` that paid the inpatient benefit's deductible."""


def _segments(edges: tuple[int, ...], ratios: tuple[int, ...], start: int, amount: int) -> list[tuple[int, int]]:
    """The eligible amount [start, start+amount) of the year's covered cost cut at the band edges:
    (part, ratio) pairs in order."""
    end = start + amount
    parts = []
    last = len(edges) - 1
    for i, edge in enumerate(edges):
        part = min(end, edges[i + 1] if i < last else end) - max(start, edge)
        if part > 0:
            parts.append((part, ratios[i]))
    return parts


def within_cap(parts: list[tuple[int, int]], remaining: int) -> int:
    """The part of the eligible amount whose payment the remaining cap still covers, rounded half-up."""
    budget = remaining * BP_ONE
    covered = 0
    for part, bp in parts:
        if part * bp <= budget:
            covered += part
            budget -= part * bp
        else:
            return covered + div_half_up(budget, bp)
    return covered


def adjudicate(terms: OutpatientTerms, member_type: str, age: int, level: int, setting: str, covered: int,
               acc: Accumulators, prescribed: bool = True) -> Adjudication:
    """Settle the covered amount of one visit under `terms` (see `compile_terms`) for a member of
    `member_type` aged `age`.

    At a pharmacy, `level` is the prescribing institution's level and `prescribed` says whether the drugs
    come on its prescription.
    """
    if not terms.pooled or (setting == PHARMACY and not (prescribed and terms.pharmacy_pooled)):
        return Adjudication(covered, 0, 0, 0, 0, 0, covered, acc)
    t = terms.lookup(member_type, age, level)
    owed = t.deductible - acc.deductible if terms.accumulates else t.deductible
    dedc = 0 if owed <= 0 else covered if covered < owed else owed
    eligible = covered - dedc
    start = acc.covered + dedc
    edges = terms.edges
    if len(edges) == 1:
        prop = t.ratios[0]
        parts = [(eligible, prop)]
    else:
        parts = _segments(edges, t.ratios, start, eligible)
        prop = t.ratios[bisect_right(edges, start) - 1]
    raw = half_up_bp(sum(part * bp for part, bp in parts))
    remaining = t.cap - acc.pool
    if remaining < 0:
        remaining = 0
    if raw <= remaining:
        hifp, over = raw, 0
    else:
        hifp, over = remaining, eligible - within_cap(parts, remaining)
    inpatient = ip_dedc = 0
    if over and terms.to_inpatient:
        owed = t.inpatient_deductible - acc.inpatient_dedc
        ip_dedc = over if over < owed else max(0, owed)
        inpatient = min(half_up_bp((over - ip_dedc) * t.inpatient_ratio), max(0, t.inpatient_cap - acc.inpatient))
    return Adjudication(covered, dedc, hifp, prop, over, inpatient, covered - hifp - inpatient,
                        Accumulators(acc.deductible + dedc, acc.pool + hifp, acc.covered + covered,
                                     acc.inpatient + inpatient, acc.inpatient_dedc + ip_dedc), ip_dedc)


class AccountSplit(NamedTuple):
    acct_pay: int
    """个人账户支出."""
    psn_cash_pay: int
    """个人现金支出."""


def split_member_share(psn_part_amt: int, balance: int, use_account: bool = True) -> AccountSplit:
    """The member's share paid from the account as far as its balance goes, the rest in cash."""
    acct = min(psn_part_amt, max(0, balance)) if use_account else 0
    return AccountSplit(acct, psn_part_amt - acct)
