"""Monthly credit rules one by one; the published amounts per region are in tests/cases/."""

from datetime import date

from gongji.engine.credit import EMPLOYER, INDIVIDUAL, POOL, CreditedMember, monthly_credit


def test_any_day_of_the_month_names_the_month(book):
    version = book.policy_for("530000", date(2024, 12, 1))
    member = CreditedMember("retired", date(1954, 12, 20))
    # 69 on 1 December 2024 (the birthday is on the 20th), so 106.00 for the whole month
    assert monthly_credit(version, member, date(2024, 12, 31)).amount == 10600
    assert monthly_credit(version, member, date(2025, 1, 1)).amount == 14200


def test_pre_reform_in_service_credit_has_two_sources(book):
    version = book.policy_for("321000", date(2022, 1, 1))
    member = CreditedMember("in_service", date(1990, 1, 1), contribution_base=512_345)
    credit = monthly_credit(version, member, date(2022, 1, 1))
    # own 5123.45 x 2% = 102.469 -> 102.47; employer 5123.45 x 1% = 51.2345 -> 51.23
    assert [(p.source, p.amount) for p in credit.parts] == [(INDIVIDUAL, 10247), (EMPLOYER, 5123)]
    assert credit.amount == 15370


def test_transition_credit_rounds_half_up(book):
    version = book.policy_for("321000", date(2023, 1, 1))
    member = CreditedMember("retired", date(1950, 1, 1), previous_year_credits=100_006)
    # 1000.06 / 12 = 83.338 -> 83.34, from the pool
    assert monthly_credit(version, member, date(2023, 7, 1)).parts == ((POOL, 8334),)


def test_a_retiree_credit_ignores_any_contribution_base(book):
    version = book.policy_for("530000", date(2025, 1, 1))
    member = CreditedMember("retired", date(1960, 1, 1), contribution_base=800_000)
    assert monthly_credit(version, member, date(2025, 1, 1)).parts == ((POOL, 10600),)
