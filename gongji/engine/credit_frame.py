"""A year of monthly account credits (个人账户计入) and contributions for a whole population at once (Polars),
equal month by month to `credit.monthly_credit`, to the fen.

Members frame columns: psn, retired (bool), birth_date (pl.Date), contribution_base and pension (fen a month),
prev_year_credit (fen, needed only by a transition rule). A member keeps one type the whole year.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from gongji.engine.credit import EMPLOYER, INDIVIDUAL, MONTHS_PER_YEAR, POOL
from gongji.engine.dates import age_at
from gongji.money import half_up_bp
from gongji.policy.schema import (
    AveragePensionPercent,
    BaseAndEmployerPercent,
    BasePercent,
    FixedByAge,
    OwnPensionPercent,
    PreviousYearMonthly,
    Version,
)

SOURCES = (INDIVIDUAL, EMPLOYER, POOL)
CONTRIBUTIONS = ("employer_paid", "individual_paid")
"""缴费: what the employer and the member pay in a year (in-service members), half-up each month."""
_ZERO = pl.lit(0, pl.Int64)


def _percent(amount: str, bp: int) -> pl.Expr:
    return half_up_bp(pl.col(amount) * bp)


def _retiree_month(version: Version, month: int, year: int) -> pl.Expr:
    rule = version.crediting.retired
    if isinstance(rule, FixedByAge):
        age = age_at(pl.col("birth_date"), year, month * 100 + 1)
        amount = _ZERO
        for from_age in sorted(rule.amounts):
            amount = pl.when(age >= from_age).then(pl.lit(rule.amounts[from_age], pl.Int64)).otherwise(amount)
        return amount
    if isinstance(rule, AveragePensionPercent):
        return pl.lit(half_up_bp(version.reference_values[rule.of].amount * rule.percent), pl.Int64)
    if isinstance(rule, PreviousYearMonthly):
        return (2 * pl.col("prev_year_credit") + MONTHS_PER_YEAR) // (2 * MONTHS_PER_YEAR)
    if isinstance(rule, OwnPensionPercent):
        return _percent("pension", rule.percent)
    raise TypeError(f"unknown retiree crediting rule {rule!r}")


def _in_service_month(version: Version) -> tuple[pl.Expr, pl.Expr]:
    """(individual, employer) parts of an in-service member's monthly credit."""
    rule = version.crediting.in_service
    if isinstance(rule, BasePercent):
        return _percent("contribution_base", rule.percent), _ZERO
    if isinstance(rule, BaseAndEmployerPercent):
        return _percent("contribution_base", rule.own_percent), _percent("contribution_base", rule.employer_percent)
    raise TypeError(f"unknown in-service crediting rule {rule!r}")


def needs_previous_year(version: Version) -> bool:
    return isinstance(version.crediting.retired, PreviousYearMonthly)


def annual_credits(members: pl.DataFrame, year: int, version_of_month: Callable[[int], Version]) -> pl.DataFrame:
    """psn and the year's credits by source (columns SOURCES) and contributions (CONTRIBUTIONS), in fen: each
    month's amount rounded half-up once, as crediting posts it, under the version `version_of_month(m)` gives for
    month m (1-12)."""
    retired = pl.col("retired")
    totals = dict.fromkeys((*SOURCES, *CONTRIBUTIONS), _ZERO)
    for month in range(1, MONTHS_PER_YEAR + 1):
        version = version_of_month(month)
        own, employer = _in_service_month(version)
        totals[INDIVIDUAL] = totals[INDIVIDUAL] + pl.when(retired).then(0).otherwise(own)
        totals[EMPLOYER] = totals[EMPLOYER] + pl.when(retired).then(0).otherwise(employer)
        totals[POOL] = totals[POOL] + pl.when(retired).then(_retiree_month(version, month, year)).otherwise(0)
        paid = version.contributions
        if paid is not None:
            for name, bp in zip(CONTRIBUTIONS, (paid.employer_percent, paid.individual_percent), strict=True):
                totals[name] = totals[name] + pl.when(retired).then(0).otherwise(_percent("contribution_base", bp))
    return members.lazy().select("psn", *(expr.cast(pl.Int64).alias(name) for name, expr in totals.items())).collect()
