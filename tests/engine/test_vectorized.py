"""The vectorized engine gives the sequential engine's amounts to the fen."""

import random
from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongji.engine.outpatient import CLINIC, PHARMACY, Accumulators, adjudicate
from gongji.engine.terms import compile_terms
from gongji.engine.vectorized import RESULT_COLUMNS, FrameError, adjudicate_frame
from tests.engine.strategies import versions, visits, with_inpatient_deductible

FIELDS = ("act_pay_dedc", "hifp_pay", "pool_prop", "over_cap_amt", "inpatient_dedc", "inpatient_pay", "psn_part_amt")


def _frame(rows):
    return pl.DataFrame(rows, schema={"psn": pl.Int64, "date": pl.Date, "retired": pl.Boolean, "age": pl.Int64,
                                      "level": pl.Int64, "pharmacy": pl.Boolean, "prescribed": pl.Boolean,
                                      "covered": pl.Int64}, orient="row")


def _sequential(terms, rows):
    """Visits in member, date order, settled one by one, each member-year from zero."""
    out, acc, key = [], Accumulators(), None
    for psn, day, retired, age, level, pharmacy, prescribed, covered in rows:
        if key != (psn, day.year):
            acc, key = Accumulators(), (psn, day.year)
        r = adjudicate(terms, "retired" if retired else "in_service", age, level,
                       PHARMACY if pharmacy else CLINIC, covered, acc, prescribed)
        acc = r.accumulators
        out.append(tuple(getattr(r, f) for f in FIELDS))
    return out


def _assert_agree(version, rows):
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    terms = compile_terms(version)
    got = adjudicate_frame(terms, _frame(rows)).select(FIELDS).rows()
    expected = _sequential(terms, rows)
    mismatches = [(row, e, g) for row, e, g in zip(rows, expected, got, strict=True) if e != g]
    assert not mismatches, mismatches[:3]


@settings(max_examples=200, deadline=None)
@given(versions(), st.lists(visits(max_size=15), min_size=1, max_size=6))
def test_agree_on_random_policies(version, members):
    rows = []
    for psn, year in enumerate(members):
        for member_type, age, level, setting, covered, prescribed, day in year:
            rows.append((psn, day, member_type == "retired", age, level, setting == PHARMACY, prescribed, covered))
    _assert_agree(version, rows)


def _population(rnd, members, year, first_psn=0):
    rows = []
    for psn in range(first_psn, first_psn + members):
        retired = rnd.random() < 0.3
        age = rnd.randint(60, 95) if retired else rnd.randint(18, 64)
        day = date(year, 1, 1)
        for _ in range(rnd.randint(1, 40)):
            day += timedelta(days=rnd.randint(0, 20))
            if day.year != year:
                break
            covered = rnd.choice((rnd.randint(0, 20_000), rnd.randint(0, 200_000), rnd.randint(0, 2_000_000)))
            rows.append((psn, day, retired, age + (day.month > 6), rnd.randint(1, 3), rnd.random() < 0.2,
                         rnd.random() < 0.8, covered))
    return rows


@pytest.mark.parametrize(("region", "on"), [("321000", date(2024, 1, 1)), ("530000", date(2025, 1, 1)),
                                            ("990100", date(2025, 1, 1)), ("000000", date(2025, 1, 1))])
def test_agree_on_100000_random_visits(book, region, on):
    rnd = random.Random(f"{region}-100k")
    rows = []
    while len(rows) < 100_000:
        rows += _population(rnd, 1000, on.year, first_psn=len(rows))
    _assert_agree(book.policy_for(region, on), rows[:100_000])


@pytest.mark.parametrize(("region", "deductibles"), [("530000", ("1000.00", "800.00")),
                                                     ("990100", ("300.00", "0.00"))])
def test_agree_on_100000_random_visits_with_an_inpatient_deductible(book, region, deductibles):
    rnd = random.Random(f"{region}-inpatient-deductible")
    rows = []
    while len(rows) < 100_000:
        rows += _population(rnd, 1000, 2025, first_psn=len(rows))
    version = with_inpatient_deductible(book.policy_for(region, date(2025, 1, 1)), *deductibles)
    _assert_agree(version, rows[:100_000])


def test_the_inpatient_deductible_once_a_year_by_hand(book):
    """Yunnan (530000.yaml) in service at level 1: deductible 20.00 per visit, 60 %, cap 6000.00, then the
    inpatient benefit at 90 %, here after an inpatient deductible of 1000.00 (the file sets none)."""
    version = with_inpatient_deductible(book.policy_for("530000", date(2025, 1, 1)), "1000.00", "800.00")
    rows = [(1, date(2025, 3, 1), False, 40, 1, False, True, 1_050_000),
            (1, date(2025, 4, 1), False, 40, 1, False, True, 100_000),
            (1, date(2025, 5, 1), False, 40, 1, False, True, 20_000),
            (1, date(2026, 1, 5), False, 41, 1, False, True, 1_050_000)]
    out = adjudicate_frame(compile_terms(version), _frame(rows))
    # 10500.00: (10500 - 20) x 60 % = 6288.00 > 6000.00, which covers 6000 / 0.6 = 10000.00: 480.00 over the cap,
    # all toward the inpatient deductible. 1000.00: 980.00 over, 1000 - 480 = 520.00 still owed, then
    # (980 - 520) x 90 % = 414.00. 200.00: 180.00 over, 180 x 90 % = 162.00. The next year owes it again.
    assert out.select("over_cap_amt", "inpatient_dedc", "inpatient_pay").rows() == [
        (48_000, 48_000, 0), (98_000, 52_000, 41_400), (18_000, 0, 16_200), (48_000, 48_000, 0)]


def test_pre_reform_pays_nothing(book):
    rows = [(1, date(2022, 3, 1), False, 40, 1, False, True, 100_000)]
    out = adjudicate_frame(compile_terms(book.policy_for("321000", date(2022, 3, 1))), _frame(rows))
    assert out.select(RESULT_COLUMNS).row(0) == (0, 0, 0, 0, 0, 0, 100_000)


def test_unsorted_input_comes_back_in_member_date_order(book):
    version = book.policy_for("321000", date(2024, 1, 1))
    rows = [(2, date(2024, 3, 1), False, 40, 1, False, True, 100_000),
            (1, date(2024, 5, 1), False, 40, 1, False, True, 100_000),
            (1, date(2024, 2, 1), False, 40, 1, False, True, 100_000)]
    out = adjudicate_frame(compile_terms(version), _frame(rows))
    assert out.select("psn", "date").rows() == [(1, date(2024, 2, 1)), (1, date(2024, 5, 1)), (2, date(2024, 3, 1))]
    # member 1: 1000 - 600 deductible = 400 x 70% = 280, then 1000 x 70% = 700; member 2 like the first
    assert out["hifp_pay"].to_list() == [28_000, 70_000, 28_000]


@pytest.mark.parametrize(("change", "message"), [
    ({"level": 4}, "level: 4 is not 1, 2 or 3"),
    ({"covered": -1}, "covered: negative amounts"),
])
def test_bad_frames(book, change, message):
    row = {"psn": 1, "date": date(2024, 3, 1), "retired": False, "age": 40, "level": 1, "pharmacy": False,
           "prescribed": True, "covered": 100} | change
    with pytest.raises(FrameError, match=message):
        adjudicate_frame(compile_terms(book.policy_for("321000", date(2024, 1, 1))), pl.DataFrame([row]))


def test_a_type_change_within_a_year_is_refused(book):
    rows = [(1, date(2024, 3, 1), False, 59, 1, False, True, 100), (1, date(2024, 9, 1), True, 60, 1, False, True, 100)]
    with pytest.raises(FrameError, match="type changes within a settlement year"):
        adjudicate_frame(compile_terms(book.policy_for("321000", date(2024, 1, 1))), _frame(rows))


def test_missing_columns(book):
    with pytest.raises(FrameError, match=r"lacks columns \['date', 'retired', 'age'"):
        adjudicate_frame(compile_terms(book.policy_for("321000", date(2024, 1, 1))), pl.DataFrame({"psn": [1]}))
