"""Ordinary outpatient pooling (普通门诊统筹) for one visit, against the member's year-to-date accumulators.

Order of the rules for a visit's covered amount (政策范围内费用):
1. the deductible (起付标准) is taken first from the covered amount, whatever the cap;
2. the rest is paid at the ratio of the level, member type and age, split by the cost bands of the year's
   cumulative covered cost where the policy has them, and rounded half-up once;
3. the pool pays no more than the cap (最高支付限额) leaves; the covered amount the pool could not pay
   because of the cap is `over_cap_amt`, settled under the inpatient benefit where the policy says so.
"""

from __future__ import annotations

from typing import NamedTuple

from gongji.money import BP_ONE, div_half_up
from gongji.policy.schema import Outpatient, RatioTable, Version

CLINIC = "clinic"
"""定点医疗机构: a designated medical institution."""
PHARMACY = "pharmacy"
"""定点零售药店: a designated retail pharmacy, pooled only on a prescription (外配处方)."""
SETTINGS = (CLINIC, PHARMACY)


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


def _segments(op: Outpatient, member_type: str, age: int, level: int,
              start: int, amount: int) -> list[tuple[int, int]]:
    """The visit's eligible amount [start, start+amount) of the year's covered cost, cut at band edges:
    (part, ratio) pairs in order."""
    bands = op.segments()
    parts = []
    end = start + amount
    for i, (edge, table) in enumerate(bands):
        upper = bands[i + 1][0] if i + 1 < len(bands) else end
        part = min(end, upper) - max(start, edge)
        if part > 0:
            parts.append((part, table.ratio(member_type, age, level)))
    return parts


def _ratio_at(op: Outpatient, member_type: str, age: int, level: int, position: int) -> int:
    table: RatioTable = op.ratios
    for edge, band_table in op.segments():
        if position >= edge:
            table = band_table
    return table.ratio(member_type, age, level)


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


def adjudicate(version: Version, member_type: str, age: int, level: int, setting: str, covered: int,
               acc: Accumulators, prescribed: bool = True) -> Adjudication:
    """Settle the covered amount of one visit under `version` for a member of `member_type` aged `age`.

    At a pharmacy, `level` is the prescribing institution's level and `prescribed` says whether the drugs
    come on its prescription.
    """
    op = version.outpatient
    pooled = op is not None and (setting != PHARMACY or (prescribed and op.pharmacy.pooled))
    if not pooled:
        return Adjudication(covered, 0, 0, 0, 0, 0, covered, acc)
    deductible_rule = op.deductible
    owed = deductible_rule.amount(member_type, level)
    if deductible_rule.accumulates:
        owed = max(0, owed - acc.deductible)
    dedc = min(covered, owed)
    eligible = covered - dedc
    start = acc.covered + dedc
    parts = _segments(op, member_type, age, level, start, eligible)
    raw = div_half_up(sum(part * bp for part, bp in parts), BP_ONE)
    remaining = max(0, op.cap.amount(member_type) - acc.pool)
    if raw <= remaining:
        hifp, over = raw, 0
    else:
        hifp, over = remaining, eligible - within_cap(parts, remaining)
    inpatient = 0
    if over and op.cap.above == "inpatient":
        ip = version.inpatient
        inpatient_raw = div_half_up(over * ip.ratios.ratio(member_type, age, level), BP_ONE)
        inpatient = min(inpatient_raw, max(0, ip.cap.amount(member_type) - acc.inpatient))
    return Adjudication(
        inscp_scp_amt=covered,
        act_pay_dedc=dedc,
        hifp_pay=hifp,
        pool_prop=_ratio_at(op, member_type, age, level, start),
        over_cap_amt=over,
        inpatient_pay=inpatient,
        psn_part_amt=covered - hifp - inpatient,
        accumulators=Accumulators(acc.deductible + dedc, acc.pool + hifp, acc.covered + covered,
                                  acc.inpatient + inpatient),
    )


class AccountSplit(NamedTuple):
    acct_pay: int
    """个人账户支出."""
    psn_cash_pay: int
    """个人现金支出."""


def split_member_share(psn_part_amt: int, balance: int, use_account: bool = True) -> AccountSplit:
    """The member's share paid from the account as far as its balance goes, the rest in cash."""
    acct = min(psn_part_amt, max(0, balance)) if use_account else 0
    return AccountSplit(acct, psn_part_amt - acct)
