"""The year's figures the bureau publishes (`gongji report kpi`), on SQLite and PostgreSQL, from a small year built
through the real services; every figure worked by hand.

Yangzhou 321000 from 2024 (gongji/policy/regions/321000.yaml): annual deductible 600.00 in service / 500.00
retired; ratios 70/65/60 % in service, 80/75/70 % retired at levels 1/2/3; at a pharmacy the prescriber's level;
disease M03900 (高血压): no deductible, 85 % at level 1 for a retiree. Crediting: in service 2 % of the
contribution base from the member's own contribution; retirees 2.5 % of the reform year's average pension
3000.00 = 75.00 a month from the pool. Account interest 0.35 % on 31 December.
Yunnan 530000 (Lincang 530900 falls back to it) from 2024-11-01: deductible 20.00 per visit at level 1, 60 %
in service.
"""

from __future__ import annotations

from datetime import date

import pytest

from gongji.errors import InputError
from gongji.services import account_use, crediting, family, qualifications
from gongji.services.crediting import deposit
from gongji.services.imports import import_csv
from gongji.services.kpi import YearKpi, in_yuan, parse_year, year_kpi
from gongji.services.settlement import parse_settle, reverse, settle
from gongji.store.db import transaction
from tests.factories import (
    RELATION_COLUMNS,
    assert_clean,
    csv_bytes,
    fen,
    institution,
    institutions_csv,
    person,
    persons_csv,
    prescribe,
)

YANGZHOU, LINCANG = "321000", "530900"
H1, H2, PHARMACY = "H32100000001", "H32100000002", "P32100000011"
H_LINCANG = "H53090000001"


def visit(engine, book, psn_no: str, covered: str, on: date, code: str = H1, **extra):
    return settle(engine, book, parse_settle(
        {"psn_no": psn_no, "fixmedins_code": code, "date": on.isoformat(), "covered": covered, **extra}))


def build_year(engine, book) -> None:
    """A1 (in service, base 6000.00, 100.00 in the account) is the child of R1 (retired, 1000.00), who lets A1
    use the account (家庭共济); L1 is insured in Lincang with an empty account."""
    import_csv(engine, "institutions", institutions_csv([
        institution(H1, 1), institution(H2, 2), institution(PHARMACY, None, otp_pool_flag="1"),
        institution(H_LINCANG, 1, region=LINCANG)]), book)
    people = [person("A1", date(1980, 1, 1), base="6000.00", balc="100.00", serial=1),
              person("R1", date(1950, 6, 1), psn_type="12", pension="3000.00", balc="1000.00", serial=2),
              person("L1", date(1985, 1, 1), region=LINCANG, balc="0", serial=3)]
    import_csv(engine, "persons", persons_csv(people), book)
    import_csv(engine, "relations", csv_bytes(RELATION_COLUMNS, [
        {"psn_no": "R1", "relative_certno": people[0]["certno"], "relative_name": "儿子", "relation": "child"}]), book)
    family.authorize(engine, "R1", "A1")
    with transaction(engine) as conn:
        qualifications.record(conn, book, qualifications.parse_qualification(
            {"psn_no": "R1", "opsp_dise_code": "M03900", "begndate": "2024-01-01"}))
    deposit(engine, YANGZHOU, fen("100000.00"), date(2024, 1, 1))
    deposit(engine, LINCANG, fen("100000.00"), date(2024, 1, 1))
    # January: A1 is credited 6000 x 2 % = 120.00 (own contribution), R1 75.00 from the pool.
    crediting.credit_month(engine, book, date(2024, 1, 1), YANGZHOU)

    # 1. R1 at level 1, 800.00: (800 - 500) x 80 % = 240.00 from the pool; share 560.00 from R1's own account
    #    (1000 + 75 = 1075.00, leaving 515.00).
    visit(engine, book, "R1", "800.00", date(2024, 3, 1))
    # 2. A1 at the pharmacy on a level-2 prescription, 800.00: (800 - 600) x 65 % = 130.00; share 670.00: A1's own
    #    220.00 (100 + 120), then 450.00 from R1's account (家庭共济), leaving R1 65.00.
    rxno = prescribe(engine, book, "A1", H2, on=date(2024, 4, 1))
    visit(engine, book, "A1", "800.00", date(2024, 4, 1), PHARMACY, med_type="41", rxno=rxno)
    # 3. A1 at level 1, 1000.00, deductible met: 700.00 from the pool, 65.00 from R1, 235.00 cash: reversed.
    wrong = visit(engine, book, "A1", "1000.00", date(2024, 5, 1))
    reverse(engine, book, wrong.row["setl_id"], H1)
    # 4. R1 at level 1, 200.00, deductible met, in cash: 200 x 80 % = 160.00.
    visit(engine, book, "R1", "200.00", date(2024, 6, 1), acct_used_flag="0")
    # 5. R1's hypertension visit (门诊慢特病), 500.00, in cash: 500 x 85 % = 425.00 chronic_pay, hifp_pay 0.
    visit(engine, book, "R1", "500.00", date(2024, 7, 1), med_type="14", dise_codg="M03900", acct_used_flag="0")
    # 6. R1 pays a supplementary premium of 10.00 from the account: 65 - 10 = 55.00 left.
    account_use.pay_premium(engine, "R1", "supplementary", fen("10.00"), date(2024, 8, 1))
    # 7. L1 in Lincang at level 1, 120.00: (120 - 20) x 60 % = 60.00; share 60.00 in cash.
    visit(engine, book, "L1", "120.00", date(2024, 12, 2), H_LINCANG)
    # Interest on 31 December on the balances then: A1 0; R1 55.00 x 0.35 % = 0.1925 -> 0.19.
    account_use.credit_interest(engine, book, 2024, YANGZHOU)
    # The next year counts in 2025 only: January's credits and a visit.
    crediting.credit_month(engine, book, date(2025, 1, 1), YANGZHOU)
    visit(engine, book, "R1", "600.00", date(2025, 1, 10), acct_used_flag="0")
    assert_clean(engine)


def test_every_figure_of_the_year(engine, book):
    build_year(engine, book)
    k = year_kpi(engine, 2024)
    assert isinstance(k, YearKpi)
    assert (k.year, k.admdvs, k.days) == (2024, None, 366)
    # settlements 1, 2, 4, 5, 7 stand; 3 and its reversal are left out; the 2025 visit is another year's
    assert (k.settlements, k.reversed) == (5, 1)
    # pooling: 1 (240), 2 (130), 4 (160), 7 (60); the disease visit 5 is paid by its own benefit
    assert k.pooling_settlements == 4
    assert k.medfee_sumamt == fen("2420.00")  # 800 + 800 + 200 + 500 + 120
    assert k.hifp_pay == fen("590.00")  # 240 + 130 + 160 + 60
    assert (k.inpatient_pay, k.chronic_pay) == (0, fen("425.00"))
    assert k.fund_paid == fen("1015.00")  # 590 + 425
    assert k.relief_share == 4194  # 1015 / 2420 = 0.419421 -> 41.94 %
    assert str(k.pooling_per_day) == "0.01"  # 4 / 366 = 0.0109
    assert (k.pharmacy_settlements, k.pharmacy_pooling_settlements) == (1, 1)
    assert k.pharmacy_fund_paid == k.pharmacy_average == fen("130.00")
    assert k.family_aid_settlements == 1  # visit 2
    # retired R1: 1, 4, 5 (240 + 160 + 425); in service: A1's 2 and L1's 7 (130 + 60)
    assert (k.settlements_retired, k.fund_paid_retired) == (3, fen("825.00"))
    assert (k.settlements_in_service, k.fund_paid_in_service) == (2, fen("190.00"))
    # account income: A1 120.00, R1 75.00 in January 2024 (not 2025's), R1's interest 0.19
    assert (k.credits_individual, k.credits_employer, k.credits_pool, k.interest) == (
        fen("120.00"), 0, fen("75.00"), fen("0.19"))
    assert k.account_income == fen("195.19")
    # spending: own care R1 560.00 + A1 220.00 (visit 3 paid nothing from A1's own and is reversed);
    # relatives' care 450.00 (visit 3's 65.00 came back); premium 10.00
    assert (k.account_paid_own, k.account_paid_family, k.premiums_paid) == (
        fen("780.00"), fen("450.00"), fen("10.00"))
    assert k.account_spending == fen("1240.00")
    assert (k.members_in_service, k.members_retired, k.members) == (2, 1, 3)  # A1 and L1; R1


def test_one_region(engine, book):
    build_year(engine, book)
    k = year_kpi(engine, 2024, YANGZHOU)
    # without L1's visit 7 (120.00, 60.00 from Lincang's pool)
    assert (k.admdvs, k.settlements, k.pooling_settlements) == (YANGZHOU, 4, 3)
    assert (k.medfee_sumamt, k.hifp_pay, k.fund_paid) == (fen("2300.00"), fen("530.00"), fen("955.00"))
    assert k.relief_share == 4152  # 955 / 2300 = 0.415217
    assert (k.settlements_in_service, k.fund_paid_in_service) == (1, fen("130.00"))
    assert k.account_income == fen("195.19") and k.account_spending == fen("1240.00")
    assert (k.members_in_service, k.members_retired) == (1, 1)
    # Lincang's city code and its province's take in L1 alone
    for code in (LINCANG, "530000"):
        other = year_kpi(engine, 2024, code)
        assert (other.settlements, other.hifp_pay, other.members) == (1, fen("60.00"), 1)
        assert (other.pharmacy_average, other.account_income, other.account_spending) == (None, 0, 0)
    # Jiangsu 320000 takes in Yangzhou 321000
    jiangsu = year_kpi(engine, 2024, "320000")
    assert (jiangsu.settlements, jiangsu.members) == (4, 2)


def test_the_next_year_and_an_empty_one(engine, book):
    build_year(engine, book)
    k = year_kpi(engine, 2025, YANGZHOU)
    # R1 in 2025 at level 1, 600.00, a new year's deductible: (600 - 500) x 80 % = 80.00
    assert (k.settlements, k.hifp_pay, k.days) == (1, fen("80.00"), 365)
    assert (k.credits_individual, k.credits_pool, k.account_spending) == (fen("120.00"), fen("75.00"), 0)
    empty = year_kpi(engine, 2023)
    assert (empty.settlements, empty.medfee_sumamt, empty.relief_share, empty.pharmacy_average) == (0, 0, None, None)
    assert str(empty.pooling_per_day) == "0.00"
    # the members were insured from 2000
    assert empty.members == 3


def test_in_yuan(engine, book):
    build_year(engine, book)
    data = in_yuan(year_kpi(engine, 2024))
    assert (data["fund_paid"], data["hifp_pay"], data["pharmacy_average"]) == ("1015.00", "590.00", "130.00")
    assert (data["relief_share"], data["relief_share_bp"], data["settlements"]) == ("41.94%", 4194, 5)
    assert data["account_paid_family"] == "450.00" and data["pooling_per_day"] == "0.01"


@pytest.mark.parametrize("bad", ["24", "20x4", "0999", "12345", ""])
def test_a_bad_year_is_refused(bad):
    with pytest.raises(InputError, match="year"):
        parse_year(bad)


def test_a_bad_region_is_refused(engine):
    with pytest.raises(InputError, match="admdvs: '3210' is not a 6-digit"):
        year_kpi(engine, 2024, "3210")
