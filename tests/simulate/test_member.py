"""compare_member: one member's year before and after the reform. Numbers from 321000.yaml (Yangzhou),
530000.yaml (Yunnan) and tests/policies/990100.yaml, worked by hand."""

from datetime import date

import pytest

from gongji.money import format_grouped
from gongji.policy.values import IN_SERVICE, RETIRED
from gongji.services.quote import QuoteVisit
from gongji.simulate.member import CompareError, as_dict, compare_member, plain_words, spread_covered

YANGZHOU = "321000"
YUNNAN = "530000"


def _visit(day: str, level: int, covered: str, **more) -> QuoteVisit:
    return QuoteVisit(date=date.fromisoformat(day), level=level, covered=covered, **more)


@pytest.fixture
def yangzhou(book):
    """(pre-reform 2022, transition 2023, from 2024)"""
    return tuple(book.policy_for(YANGZHOU, date(y, 6, 1)) for y in (2022, 2023, 2024))


def test_a_yangzhou_retiree_comes_out_ahead(book, yangzhou):
    pre, _transition, final = yangzhou
    visits = spread_covered(300000, 2024)  # 3,000.00 yuan in 12 visits of 250.00 at level 1
    c = compare_member(book, YANGZHOU, RETIRED, date(1952, 1, 1), None, 350000, visits, pre, final, 2024)
    # before (2022): own pension 3500.00 x 4% = 140.00 a month, 1,680.00 a year; no outpatient pooling
    assert c.before.monthly_credits == (14000,) * 12
    assert (c.before.credit, c.before.reimbursement, c.before.out_of_pocket) == (168000, 0, 300000)
    # after (2024): 2.5% x 3000.00 = 75.00 a month, 900.00 a year; retiree deductible 500.00 a year (the first two
    # visits), then 80% at level 1: (3000 - 500) x 80% = 2,000.00, within the cap of 8,000.00
    assert c.after.monthly_credits == (7500,) * 12
    assert (c.after.credit, c.after.hifp_pay, c.after.inpatient_pay, c.after.out_of_pocket) == (90000, 200000, 0,
                                                                                               100000)
    # net: (900 - 1680) + (2000 - 0) = +1,220.00
    assert (c.credit_change, c.reimbursement_change, c.out_of_pocket_change) == (-78000, 200000, -200000)
    assert c.net_effect == 122000
    assert (c.visits, c.covered) == (12, 300000)
    zh, en = plain_words(c)
    assert zh == "个人账户每年少划入 780.00 元，门诊统筹每年多报销 2,000.00 元，合计每年多得 1,220.00 元。"
    assert en == ("Your account is credited 780.00 yuan less a year; the pooled fund pays 2,000.00 yuan more of your "
                  "outpatient costs; in all you come out 1,220.00 yuan a year ahead.")


def test_the_transition_year_credits_last_year_total_over_twelve(book, yangzhou):
    pre, transition, _final = yangzhou
    visits = spread_covered(300000, 2023)
    c = compare_member(book, YANGZHOU, RETIRED, date(1951, 1, 1), None, 350000, visits, pre, transition, 2023)
    # 2023 credits the member's 2022 total / 12; 2022 was pre-reform: 140.00 x 12 = 1,680.00, / 12 = 140.00
    assert c.after.monthly_credits == (14000,) * 12 and c.before.credit == c.after.credit == 168000
    # 2023's outpatient pooling is 2024's: (3000 - 500) x 80% = 2,000.00; net 0 + 2000 = +2,000.00
    assert (c.after.reimbursement, c.net_effect) == (200000, 200000)
    assert plain_words(c)[0] == "个人账户每年划入不变，门诊统筹每年多报销 2,000.00 元，合计每年多得 2,000.00 元。"


def test_the_previous_year_credits_can_be_given(book, yangzhou):
    pre, transition, _final = yangzhou
    c = compare_member(book, YANGZHOU, RETIRED, date(1951, 1, 1), None, 350000, [], pre, transition, 2023,
                       previous_year_credits=150006)
    # 1,500.06 / 12 = 125.005, half-up 125.01 a month, 1,500.12 a year
    assert c.after.monthly_credits == (12501,) * 12 and c.after.credit == 150012
    # no visits: only the credit changes, 1500.12 - 1680.00 = -179.88
    assert (c.covered, c.reimbursement_change, c.net_effect) == (0, 0, -17988)
    assert plain_words(c)[1].endswith("in all you come out 179.88 yuan a year behind.")


def test_without_a_version_the_year_before_the_history_falls_back_to_before(book, yangzhou):
    pre, transition, _final = yangzhou
    # the 2023 rules forced onto 2022: they need 2021's credits, and the book has no 2021 for Yangzhou, so the
    # `before` version (own pension x 4% = 140.00 a month) stands in: 1,680.00 / 12 = 140.00
    c = compare_member(book, YANGZHOU, RETIRED, date(1950, 1, 1), None, 350000, spread_covered(300000, 2022), pre,
                       transition, 2022)
    assert c.after.monthly_credits == (14000,) * 12
    assert (c.after.reimbursement, c.net_effect) == (200000, 200000)


def test_the_history_runs_through_a_chain_of_transition_years(book, yangzhou):
    pre, transition, _final = yangzhou
    # 2024 under the 2023 transition rule needs 2023's credits, which (2023 in force) need 2022's: 140.00 a month
    c = compare_member(book, YANGZHOU, RETIRED, date(1950, 1, 1), None, 350000, [], pre, transition, 2024)
    assert c.after.monthly_credits == (14000,) * 12


def test_an_in_service_member(book, yangzhou):
    pre, _transition, final = yangzhou
    c = compare_member(book, YANGZHOU, IN_SERVICE, date(1979, 1, 1), 800000, None, spread_covered(300000, 2024), pre,
                       final, 2024)
    # before: base 8000.00 x (2% own + 1% employer) = 160.00 + 80.00 = 240.00 a month, 2,880.00 a year
    # after: 8000.00 x 2% = 160.00 a month, 1,920.00 a year
    assert (c.before.credit, c.after.credit) == (288000, 192000)
    # in-service deductible 600.00 (visits 1, 2 and 100.00 of the 3rd), then 70% at level 1:
    # (3000 - 600) x 70% = 1,680.00; net (1920 - 2880) + 1680 = +720.00
    assert (c.before.reimbursement, c.after.reimbursement, c.net_effect) == (0, 168000, 72000)


def test_a_yunnan_retiree_turning_70_against_another_regions_rules(book):
    before = book.policy_for("990100", date(2025, 1, 1))  # the test region: no pre-reform version in 530000.yaml
    after = book.policy_for(YUNNAN, date(2025, 6, 1))
    visits = [_visit("2025-03-15", 1, "200.00"), _visit("2025-08-15", 1, "200.00")]
    c = compare_member(book, YUNNAN, RETIRED, date(1955, 6, 10), None, None, visits, before, after, 2025)
    # ages on the 1st of the month: 69 up to 1 June, 70 from 1 July (birthday 10 June)
    # 530000: 106.00 x 6 + 142.00 x 6 = 636 + 852 = 1,488.00
    # 990100: 100.00 x 6 + 150.00 x 6 = 600 + 900 = 1,500.00
    assert c.after.monthly_credits == (10600,) * 6 + (14200,) * 6
    assert (c.before.credit, c.after.credit) == (150000, 148800)
    # 530000: deductible 20.00 at every level-1 visit, retirees 70%: (200 - 20) x 70% = 126.00 twice = 252.00
    # 990100: annual deductible 50.00 at level 1; aged 69 on 15 March: (200 - 50) x 80% = 120.00;
    #         aged 70 on 15 August, ratio from 70 is 90%: 200 x 90% = 180.00; 300.00 in all
    assert (c.before.reimbursement, c.after.reimbursement) == (30000, 25200)
    # net (1488 - 1500) + (252 - 300) = -12 - 48 = -60.00
    assert c.net_effect == -6000
    zh, en = plain_words(c)
    assert zh == "个人账户每年少划入 12.00 元，门诊统筹每年少报销 48.00 元，合计每年少得 60.00 元。"
    assert en == ("Your account is credited 12.00 yuan less a year; the pooled fund pays 48.00 yuan less of your "
                  "outpatient costs; in all you come out 60.00 yuan a year behind.")


def test_reimbursement_counts_the_inpatient_benefit_above_the_cap(book):
    yunnan = book.policy_for(YUNNAN, date(2025, 1, 1))
    visits = [_visit("2025-05-05", 1, "10000.00")]
    c = compare_member(book, YUNNAN, RETIRED, date(1950, 1, 1), None, None, visits, yunnan, yunnan, 2025)
    # (10000 - 20) x 70% = 6986.00 > cap 6000.00: the pool pays 6,000.00 for 6000 / 0.7 = 8571.428..., 8,571.43;
    # the other 9980.00 - 8571.43 = 1,408.57 goes to the inpatient benefit: x 95% = 1338.1415, 1,338.14
    assert (c.after.hifp_pay, c.after.inpatient_pay, c.after.reimbursement) == (600000, 133814, 733814)
    assert c.after.out_of_pocket == 1000000 - 733814  # 2,661.86
    assert c.net_effect == 0
    assert plain_words(c) == ("个人账户每年划入不变，门诊统筹报销不变，合计每年不多不少。",
                              "Your account is credited the same; the pooled fund pays the same of your outpatient "
                              "costs; in all you come out the same.")


def test_each_side_applies_its_version_whatever_the_visit_dates(book, yangzhou):
    pre, _transition, final = yangzhou
    # a 2022 visit under the 2024 rules, and 2024 cross-region care under the pre-reform rules
    c = compare_member(book, YANGZHOU, RETIRED, date(1950, 1, 1), None, 350000, [_visit("2022-03-01", 1, "1500.00")],
                       pre, final, 2022)
    assert (c.before.reimbursement, c.after.reimbursement) == (0, 80000)  # (1500 - 500) x 80% = 800.00
    away = [_visit("2024-03-01", 1, "1500.00", treated_in="110000")]
    c = compare_member(book, YANGZHOU, RETIRED, date(1950, 1, 1), None, 350000, away, pre, final, 2024)
    # unregistered elsewhere: 80% less 20 points: (1500 - 500) x 60% = 600.00
    assert (c.before.reimbursement, c.after.reimbursement) == (0, 60000)


def test_visits_are_settled_in_date_order(book, yangzhou):
    pre, _transition, final = yangzhou
    visits = [_visit("2024-09-01", 1, "1000.00"), _visit("2024-02-01", 3, "500.00")]
    c = compare_member(book, YANGZHOU, RETIRED, date(1950, 1, 1), None, 350000, visits, pre, final, 2024)
    # February first: its 500.00 is the deductible; then September 1000 x 80% = 800.00
    # (in the order given it would be (1000 - 500) x 80% + 500 x 70% = 750.00)
    assert c.after.reimbursement == 80000


def test_spread_covered_splits_exactly():
    visits = spread_covered(100001, 2024, level=2)  # 1,000.01 yuan
    # 100001 = 12 x 8333 + 5: the first five months 83.34, the other seven 83.33
    assert [v.covered for v in visits] == [8334] * 5 + [8333] * 7
    assert sum(v.covered for v in visits) == 100001
    assert [v.date for v in visits] == [date(2024, m, 15) for m in range(1, 13)]
    assert {v.level for v in visits} == {2} and {v.setting for v in visits} == {"clinic"}
    assert spread_covered(0, 2024) == []
    with pytest.raises(CompareError, match="level: 4"):
        spread_covered(100, 2024, level=4)


def test_as_dict_in_yuan(book, yangzhou):
    pre, _transition, final = yangzhou
    c = compare_member(book, YANGZHOU, RETIRED, date(1952, 1, 1), None, 350000, spread_covered(300000, 2024), pre,
                       final, 2024)
    d = as_dict(c)
    assert d["before"]["account_credit"] == "1680.00" and d["after"]["reimbursement"] == "2000.00"
    assert d["change"] == {"account_credit": "-780.00", "reimbursement": "2000.00", "out_of_pocket": "-2000.00"}
    assert (d["net_effect"], d["pension"], d["contribution_base"]) == ("1220.00", "3500.00", None)
    assert d["before"]["pre_reform"] is True and d["after"]["effective_from"] == "2024-01-01"


def test_grouped_yuan():
    assert [format_grouped(f) for f in (0, 5, 101240, 123456789, -78000)] == [
        "0.00", "0.05", "1,012.40", "1,234,567.89", "-780.00"]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"pension": None}, "pension", "credits retirees 4% of their own monthly pension"),
    ({"pension": -1}, "pension", "negative"),
    ({"region": "110000"}, "region", "unknown region '110000'"),
    ({"member_type": "student"}, "member_type", "'student'"),
    ({"member_type": IN_SERVICE}, "contribution_base", "give it"),
    ({"visits": [_visit("2023-12-31", 1, "10.00")]}, "visits[0].date", "2023-12-31 is not in 2024"),
    ({"visits": [_visit("2024-01-02", 1, "10.00"), _visit("2024-03-01", 1, "10.00", disease="M03900")]},
     "visits[1].disease", "'M03900'"),
    ({"visits": [_visit("2024-03-01", 1, "10.00", treated_in="321002", registration="temporary")]},
     "visits[0].registration", "own region 321000"),
    ({"birth_date": date(2024, 6, 1), "visits": [_visit("2024-03-01", 1, "10.00")]}, "visits[0].date",
     "before the member's birth date"),
])
def test_input_it_cannot_use(book, yangzhou, change, field, words):
    pre, _transition, final = yangzhou
    args = {"book": book, "region": YANGZHOU, "member_type": RETIRED, "birth_date": date(1952, 1, 1),
            "contribution_base": None, "pension": 350000, "visits": [], "before": pre, "after": final,
            "year": 2024} | change
    with pytest.raises(CompareError) as caught:
        compare_member(**args)
    assert caught.value.field == field and words in str(caught.value)
