"""Ages as the rules count them."""

from __future__ import annotations

from datetime import date

import polars as pl


def age_on(birth_date: date, on: date) -> int:
    """Full years (周岁) on `on`; someone born on 29 February turns a year older on 1 March in other years."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - before_birthday


def month_day(day: pl.Expr) -> pl.Expr:
    """A date column's (month, day) as one comparable number: 29 February -> 229."""
    return day.dt.month().cast(pl.Int32) * 100 + day.dt.day().cast(pl.Int32)


def age_at(birth: pl.Expr, year: pl.Expr | int, on_month_day: pl.Expr | int) -> pl.Expr:
    """`age_on` for a column of birth dates, on the day `on_month_day` (month x 100 + day) of `year`."""
    year = pl.lit(year, pl.Int32) if isinstance(year, int) else year.cast(pl.Int32)
    before_birthday = (on_month_day if isinstance(on_month_day, pl.Expr) else pl.lit(on_month_day)) < month_day(birth)
    return year - birth.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)
