"""A year of credits and contributions for a whole frame equals twelve months of `credit.monthly_credit` (and the
crediting service's half-up per month), to the fen. Hand-worked amounts from 321000.yaml, 530000.yaml and
tests/policies/990100.yaml."""

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongji.engine.credit import EMPLOYER, INDIVIDUAL, POOL, CreditedMember, monthly_credit
from gongji.engine.credit_frame import CONTRIBUTIONS, SOURCES, annual_credits, needs_previous_year
from gongji.policy.values import IN_SERVICE, RETIRED
from gongji.services.crediting import _half_up_percent

SCHEMA = {"psn": pl.Int64, "retired": pl.Boolean, "birth_date": pl.Date, "contribution_base": pl.Int64,
          "pension": pl.Int64, "prev_year_credit": pl.Int64}
COLUMNS = (*SOURCES, *CONTRIBUTIONS)
RULES = {
    # (region, year): what the year's versions exercise
    ("321000", 2022): "pre-reform base_and_employer_percent, own_pension_percent, contributions 7 % + 2 %",
    ("321000", 2023): "base_percent, previous_year_monthly",
    ("321000", 2024): "base_percent, average_pension_percent",
    ("530000", 2025): "fixed_by_age 0 / 70",
    ("530000", 2028): "fixed_by_age in a leap year (29 February birthdays)",
    ("990100", 2025): "fixed_by_age 0 / 70 / 80, base_percent 1.5 %, no contribution rates",
}


def _frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def _sequential(rows: list[tuple], year: int, version_of_month) -> list[tuple[int, ...]]:
    """Twelve months of monthly_credit per member, by source, and the contributions half-up per month."""
    out = []
    for psn, retired, birth, base, pension, prev in rows:
        member = CreditedMember(RETIRED if retired else IN_SERVICE, birth, base, pension, prev or 0)
        totals = dict.fromkeys(COLUMNS, 0)
        for month in range(1, 13):
            version = version_of_month(month)
            for part in monthly_credit(version, member, date(year, month, 1)).parts:
                totals[part.source] += part.amount
            paid = version.contributions
            if paid is not None and not retired:
                totals["employer_paid"] += _half_up_percent(base, paid.employer_percent)
                totals["individual_paid"] += _half_up_percent(base, paid.individual_percent)
        out.append((psn, *(totals[c] for c in COLUMNS)))
    return out


def _vectorized(rows: list[tuple], year: int, version_of_month) -> list[tuple[int, ...]]:
    got = annual_credits(_frame(rows), year, version_of_month)
    assert got.columns == ["psn", *COLUMNS]
    return got.rows()


@st.composite
def members(draw, year: int):
    """Members with odd fen amounts (half-up matters) and birthdays that make ages change within the year:
    around 70 and 80 (the fixed_by_age bands), on the 1st of a month, on 29 February."""
    count = draw(st.integers(1, 25))
    rows = []
    for psn in range(1, count + 1):
        retired = draw(st.booleans())
        kind = draw(st.sampled_from(["any", "around 70", "around 80", "first of month", "29 February"]))
        if kind == "29 February":
            birth = date(draw(st.sampled_from([1948, 1952, 1956, 1960, 1996])), 2, 29)
        elif kind == "first of month":
            birth = date(year - draw(st.integers(20, 95)), draw(st.integers(1, 12)), 1)
        else:
            age = {"around 70": 70, "around 80": 80}.get(kind) or draw(st.integers(18, 100))
            birth = date(year - age, 1, 1) + timedelta(days=draw(st.integers(-3, 368)))
        amount = st.one_of(st.integers(0, 3_000_000), st.integers(0, 999).map(lambda f: 500_000 + f))
        prev = draw(st.one_of(st.just(0), st.integers(0, 1_000_000)))
        rows.append((psn, retired, birth, draw(amount), draw(amount), prev))
    return rows


def _version_of_month(book, region: str, year: int):
    versions = [book.policy_for(region, date(year, m, 1)) for m in range(1, 13)]
    return lambda m: versions[m - 1]


@pytest.mark.parametrize(("region", "year"), list(RULES))
def test_every_shipped_crediting_rule_equals_twelve_monthly_credits(book, region, year):
    version_of_month = _version_of_month(book, region, year)

    @settings(max_examples=60, deadline=None)
    @given(members(year))
    def check(rows):
        assert _vectorized(rows, year, version_of_month) == _sequential(rows, year, version_of_month)

    check()


def test_a_version_can_change_from_month_to_month(book):
    """Each month is credited under its own version: pre-reform, transition, final Yangzhou and Yunnan in turn."""
    versions = [book.policy_for("321000", date(y, 6, 1)) for y in (2022, 2023, 2024)]
    versions.append(book.policy_for("530000", date(2025, 6, 1)))

    def version_of_month(m: int):
        return versions[m % 4]

    @settings(max_examples=60, deadline=None)
    @given(members(2025))
    def check(rows):
        assert _vectorized(rows, 2025, version_of_month) == _sequential(rows, 2025, version_of_month)

    check()


def _one(book, region: str, year: int, row: tuple) -> dict[str, int]:
    version = book.policy_for(region, date(year, 6, 1))
    got = annual_credits(_frame([row]), year, lambda _m: version)
    return {c: got[c][0] for c in COLUMNS}


def test_pre_reform_in_service_member_by_hand(book):
    out = _one(book, "321000", 2022, (1, False, date(1990, 1, 1), 512_345, 0, None))
    # own 2 %: 5123.45 x 2 % = 102.469 -> 102.47 a month, x 12 = 1229.64 (not 61481.40 x 2 % = 1229.628 -> 1229.63)
    # employer 1 %: 51.2345 -> 51.23 a month, x 12 = 614.76
    # contributions: employer 7 % = 358.6415 -> 358.64, x 12 = 4303.68; individual 2 % = 102.47, x 12 = 1229.64
    assert out == {INDIVIDUAL: 122_964, EMPLOYER: 61_476, POOL: 0, "employer_paid": 430_368,
                   "individual_paid": 122_964}


def test_pre_reform_retiree_by_hand(book):
    out = _one(book, "321000", 2022, (1, True, date(1950, 3, 3), 0, 350_050, None))
    # own pension 3500.50 x 4 % = 140.02 a month, x 12 = 1680.24; retirees pay no contributions
    assert out == {INDIVIDUAL: 0, EMPLOYER: 0, POOL: 168_024, "employer_paid": 0, "individual_paid": 0}


def test_transition_year_retiree_by_hand(book):
    out = _one(book, "321000", 2023, (1, True, date(1950, 3, 3), 0, 350_000, 100_006))
    # 2022's credits 1000.06 / 12 = 83.338 -> 83.34 a month, x 12 = 1000.08
    assert out[POOL] == 100_008


def test_final_yangzhou_retiree_and_in_service_by_hand(book):
    # retiree: 2.5 % of the reform year's average pension 3000.00 = 75.00 a month, x 12 = 900.00
    assert _one(book, "321000", 2024, (1, True, date(1950, 3, 3), 0, 350_000, None))[POOL] == 90_000
    out = _one(book, "321000", 2024, (2, False, date(1980, 3, 3), 600_050, 0, None))
    # in service: 6000.50 x 2 % = 120.01 a month, x 12 = 1440.12; no employer part after the reform
    # contributions: 7 % = 420.035 -> 420.04, x 12 = 5040.48; 2 % = 120.01, x 12 = 1440.12
    assert out == {INDIVIDUAL: 144_012, EMPLOYER: 0, POOL: 0, "employer_paid": 504_048, "individual_paid": 144_012}


@pytest.mark.parametrize(("birth", "year", "expected", "worked"), [
    (date(1955, 7, 1), 2025, 148_800, "70 on 1 July: 106.00 x 6 (Jan-Jun) + 142.00 x 6 (Jul-Dec) = 1488.00"),
    (date(1955, 7, 2), 2025, 145_200, "69 on 1 July, 70 on 1 August: 106.00 x 7 + 142.00 x 5 = 742 + 710 = 1452.00"),
    (date(1955, 1, 1), 2025, 170_400, "70 on 1 January: 142.00 x 12 = 1704.00"),
    (date(1956, 1, 2), 2025, 127_200, "69 all year: 106.00 x 12 = 1272.00"),
    (date(1956, 2, 29), 2026, 163_200, "29 Feb: 70 on 1 March 2026: 106.00 x 2 + 142.00 x 10 = 212 + 1420 = 1632.00"),
])
def test_yunnan_fixed_amount_by_age_by_hand(book, birth, year, expected, worked):
    assert _one(book, "530000", year, (1, True, birth, 0, 0, None))[POOL] == expected, worked


def test_a_29_february_birthday_in_a_leap_year_by_hand(book):
    out = _one(book, "990100", 2028, (1, True, date(1948, 2, 29), 0, 0, None))
    # 990100: 150.00 from 70, 200.00 from 80; 80 on 29 February 2028, so on 1 March:
    # 150.00 x 2 (Jan, Feb) + 200.00 x 10 = 300 + 2000 = 2300.00
    assert out[POOL] == 230_000


def test_the_test_region_has_no_contribution_rates(book):
    out = _one(book, "990100", 2025, (1, False, date(1980, 1, 1), 500_033, 0, None))
    # 1.5 % of 5000.33 = 75.00495 -> 75.00 a month, x 12 = 900.00; no contribution rates: nothing paid in
    assert out == {INDIVIDUAL: 90_000, EMPLOYER: 0, POOL: 0, "employer_paid": 0, "individual_paid": 0}


def test_only_the_transition_rule_needs_the_previous_year(book):
    assert needs_previous_year(book.policy_for("321000", date(2023, 6, 1)))
    assert not any(needs_previous_year(book.policy_for(region, on)) for region, on in (
        ("321000", date(2022, 6, 1)), ("321000", date(2024, 6, 1)), ("530000", date(2025, 6, 1))))
