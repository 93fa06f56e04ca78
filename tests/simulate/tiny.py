"""A population of four Yangzhou members worked by hand, shared by the what-if and tuning tests."""

from datetime import date

import polars as pl

from gongji.simulate.population import Population, check


def tiny_population() -> Population:
    """Yangzhou in 2024, four members (money in fen):
    1 in service, born 1980-05-10, base 5000.00: level 1 400.00, level 2 500.00, pharmacy on a level-1
      prescription 300.00;
    2 retired, born 1950-03-15, pension 3500.00: level 1 1000.00, pharmacy without a prescription 200.00,
      level 3 12000.00;
    3 in service, born 1994-07-02, base 6000.50: no visits;
    4 in service, born 1970-10-10, base 5000.00: level 3 1600.00."""
    members = pl.DataFrame({
        "psn": [1, 2, 3, 4], "sex": ["1", "2", "2", "1"],
        "birth_date": [date(1980, 5, 10), date(1950, 3, 15), date(1994, 7, 2), date(1970, 10, 10)],
        "retired": [False, True, False, False], "contribution_base": [500_000, 0, 600_050, 500_000],
        "pension": [0, 350_000, 0, 0], "prev_year_credit": [None] * 4, "household": [1, 2, 3, 4],
        "relation": ["self"] * 4,
    }, schema_overrides={"prev_year_credit": pl.Int64})
    visits = pl.DataFrame({
        "psn": [1, 1, 1, 2, 2, 2, 4],
        "date": [date(2024, 2, 1), date(2024, 5, 1), date(2024, 9, 1), date(2024, 3, 1), date(2024, 6, 1),
                 date(2024, 12, 1), date(2024, 4, 10)],
        "level": pl.Series([1, 2, 1, 1, 1, 3, 3], dtype=pl.Int8),
        "pharmacy": [False, False, True, False, True, False, False],
        "prescribed": [True, True, True, True, False, True, True],
        "covered": [40_000, 50_000, 30_000, 100_000, 20_000, 1_200_000, 160_000],
    })
    return check(members, visits, "321000", 2024)
