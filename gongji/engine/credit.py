"""Monthly account credit (个人账户计入/划入): how much goes into one member's account for one month, and
from where."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from gongji.engine.dates import age_on
from gongji.money import BP_ONE, div_half_up
from gongji.policy.schema import (
    AveragePensionPercent,
    BaseAndEmployerPercent,
    BasePercent,
    FixedByAge,
    OwnPensionPercent,
    PreviousYearMonthly,
    Version,
)
from gongji.policy.values import RETIRED

INDIVIDUAL = "individual_contribution"
"""The member's own contribution (个人缴费)."""
EMPLOYER = "employer_contribution"
"""The employer's contribution (单位缴费), credited to accounts only before the reform."""
POOL = "pool"
"""The pooled fund (统筹基金), which credits retirees."""
MONTHS_PER_YEAR = 12


class CreditedMember(NamedTuple):
    """What crediting needs to know of a member, amounts in fen a month."""

    member_type: str
    birth_date: date
    contribution_base: int = 0
    """缴费基数: the monthly contribution base (in-service members)."""
    pension: int = 0
    """the monthly basic pension (retirees)."""
    previous_year_credits: int = 0
    """the member's total credit of the previous calendar year (for a transition rule)."""


class CreditPart(NamedTuple):
    source: str
    amount: int


class Credit(NamedTuple):
    parts: tuple[CreditPart, ...]

    @property
    def amount(self) -> int:
        return sum(part.amount for part in self.parts)


def _percent(amount: int, bp: int) -> int:
    return div_half_up(amount * bp, BP_ONE)


def monthly_credit(version: Version, member: CreditedMember, month: date) -> Credit:
    """The credit for `month` (any day of it). Each part is rounded half-up to the fen once.

    Ages count on the first day of the month, so an age band's amount starts the month after the birthday.
    """
    first_day = month.replace(day=1)
    if member.member_type == RETIRED:
        rule = version.crediting.retired
        if isinstance(rule, FixedByAge):
            return Credit((CreditPart(POOL, rule.amount(age_on(member.birth_date, first_day))),))
        if isinstance(rule, AveragePensionPercent):
            return Credit((CreditPart(POOL, _percent(version.reference_values[rule.of].amount, rule.percent)),))
        if isinstance(rule, PreviousYearMonthly):
            return Credit((CreditPart(POOL, div_half_up(member.previous_year_credits, MONTHS_PER_YEAR)),))
        if isinstance(rule, OwnPensionPercent):
            return Credit((CreditPart(POOL, _percent(member.pension, rule.percent)),))
        raise TypeError(f"unknown retiree crediting rule {rule!r}")
    rule = version.crediting.in_service
    if isinstance(rule, BasePercent):
        return Credit((CreditPart(INDIVIDUAL, _percent(member.contribution_base, rule.percent)),))
    if isinstance(rule, BaseAndEmployerPercent):
        return Credit((CreditPart(INDIVIDUAL, _percent(member.contribution_base, rule.own_percent)),
                       CreditPart(EMPLOYER, _percent(member.contribution_base, rule.employer_percent))))
    raise TypeError(f"unknown in-service crediting rule {rule!r}")
