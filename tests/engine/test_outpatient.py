"""Properties of the sequential engine over random policies and visit sequences, and hand-worked amounts of what
the region cases (tests/cases/) do not reach: the inpatient benefit's deductible, ratios lowered for care in
another region, and a chronic disease's own terms.

Yunnan 530000 (gongji/policy/regions/530000.yaml) from 2024-11-01, in service: deductible 20.00 per visit at
level 1, ratio 60 %, cap 6000.00 a year, cost above it under the inpatient benefit at 90 % at level 1 (80 % at
level 3), inpatient cap 150000.00; its file sets no inpatient deductible, the tests set one.
Yangzhou 321000 from 2024: annual deductible 600.00 in service / 500.00 retired, ratios 70/65/60 % in service and
80/75/70 % retired; diseases M03900 (no deductible, 80/75/70 % in service, limit 2000.00 in service) and M00500
(deductible 300.00 in service, 85 % at every level, 90 % retired, limit 50000.00).
"""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongji.engine.outpatient import CLINIC, PHARMACY, Accumulators, adjudicate, split_member_share, within_cap
from gongji.engine.terms import compile_disease, compile_terms
from gongji.policy.values import IN_SERVICE, RETIRED
from tests.engine.strategies import versions, visits, with_inpatient_deductible


def _run(version, year):
    terms = compile_terms(version)
    acc = Accumulators()
    results = []
    for member_type, age, level, setting, covered, prescribed, _day in year:
        result = adjudicate(terms, member_type, age, level, setting, covered, acc, prescribed)
        results.append(result)
        acc = result.accumulators
    return results


@settings(max_examples=300, deadline=None)
@given(versions(), visits())
def test_parts_add_up_and_cap_holds(version, year):
    results = _run(version, year)
    op = version.outpatient
    member_type = year[0][0]
    for r in results:
        assert r.act_pay_dedc + (r.inscp_scp_amt - r.act_pay_dedc) == r.inscp_scp_amt
        assert r.hifp_pay + r.inpatient_pay + r.psn_part_amt == r.inscp_scp_amt
        assert 0 <= r.act_pay_dedc <= r.inscp_scp_amt
        assert r.hifp_pay >= 0 and r.inpatient_pay >= 0 and r.psn_part_amt >= 0
        assert 0 <= r.over_cap_amt <= r.inscp_scp_amt - r.act_pay_dedc
        if op.cap.above == "nothing":
            assert r.inpatient_pay == 0
    total = sum(r.hifp_pay for r in results)
    assert total == results[-1].accumulators.pool
    assert total <= op.cap.amount(member_type)
    if version.inpatient:
        assert sum(r.inpatient_pay for r in results) <= version.inpatient.cap.amount(member_type)
        paid_dedc = sum(r.inpatient_dedc for r in results)
        assert paid_dedc == results[-1].accumulators.inpatient_dedc
        if op.cap.above == "inpatient":  # once a year: never more than the deductible, nor than the cost over the cap
            assert paid_dedc == min(version.inpatient.deductible.amount(member_type),
                                    sum(r.over_cap_amt for r in results))
    for r in results:
        assert 0 <= r.inpatient_dedc <= r.over_cap_amt


@settings(max_examples=300, deadline=None)
@given(versions(), visits(max_size=10), st.integers(1, 1_000_000))
def test_a_larger_bill_never_gets_a_smaller_fund_payment(version, year, extra):
    history = _run(version, year[:-1])
    acc = history[-1].accumulators if history else Accumulators()
    member_type, age, level, setting, covered, prescribed, _day = year[-1]
    terms = compile_terms(version)
    smaller = adjudicate(terms, member_type, age, level, setting, covered, acc, prescribed)
    larger = adjudicate(terms, member_type, age, level, setting, covered + extra, acc, prescribed)
    assert larger.hifp_pay >= smaller.hifp_pay
    assert larger.hifp_pay + larger.inpatient_pay >= smaller.hifp_pay + smaller.inpatient_pay


def test_within_cap_walks_the_bands_in_order():
    # 1000 fen at 70% costs 700; with 1000 left, 300 remain for the 60% band: 300 / 0.6 = 500 fen
    assert within_cap([(1000, 7000), (5000, 6000)], 1000) == 1500
    # 1 fen left at 30%: 1 / 0.3 = 3.33 -> 3
    assert within_cap([(100, 3000)], 1) == 3
    assert within_cap([(100, 7000)], 1000) == 100


def test_the_account_pays_as_far_as_its_balance_goes():
    assert split_member_share(5000, 3000) == (3000, 2000)
    assert split_member_share(5000, 9000) == (5000, 0)
    assert split_member_share(5000, -100) == (0, 5000)
    assert split_member_share(5000, 9000, use_account=False) == (0, 5000)


def _yunnan(book, in_service="1000.00", retired="800.00"):
    return with_inpatient_deductible(book.policy_for("530000", date(2025, 1, 1)), in_service, retired)


def _year(terms, visits, member_type=IN_SERVICE, age=40):
    acc, out = Accumulators(), []
    for level, covered in visits:
        r = adjudicate(terms, member_type, age, level, CLINIC, covered, acc)
        out.append(r)
        acc = r.accumulators
    return out


def test_the_inpatient_deductible_is_owed_once_a_year_by_cost_over_the_cap(book):
    terms = compile_terms(_yunnan(book))
    assert terms.lookup(IN_SERVICE, 40, 1).inpatient_deductible == 100_000
    first, second, third = _year(terms, [(1, 1_050_000), (1, 100_000), (1, 20_000)])
    # 10500.00: 20.00 deductible, 10480.00 x 60 % = 6288.00 > the cap 6000.00, which 6000 / 0.6 = 10000.00
    # covers; over the cap 480.00, all of it toward the inpatient deductible of 1000.00: nothing paid on it
    assert (first.act_pay_dedc, first.hifp_pay, first.over_cap_amt) == (2_000, 600_000, 48_000)
    assert (first.inpatient_dedc, first.inpatient_pay, first.psn_part_amt) == (48_000, 0, 450_000)
    # 1000.00: 20.00 deductible, the cap is used up: 980.00 over it; 1000 - 480 = 520.00 of the inpatient
    # deductible is still owed, then (980 - 520) x 90 % = 414.00
    assert (second.act_pay_dedc, second.hifp_pay, second.over_cap_amt) == (2_000, 0, 98_000)
    assert (second.inpatient_dedc, second.inpatient_pay, second.psn_part_amt) == (52_000, 41_400, 58_600)
    # 200.00: 180.00 over the cap, the inpatient deductible is paid: 180 x 90 % = 162.00
    assert (third.over_cap_amt, third.inpatient_dedc, third.inpatient_pay) == (18_000, 0, 16_200)
    assert third.accumulators.inpatient_dedc == 100_000 and third.accumulators.inpatient == 57_600  # 414 + 162
    # a new year starts from zero accumulators and owes it again: 10500.00 at level 1 as above
    assert _year(terms, [(1, 1_050_000)])[0].inpatient_dedc == 48_000


def test_a_retirees_inpatient_deductible_is_the_retirees(book):
    (only,) = _year(compile_terms(_yunnan(book)), [(3, 1_500_000)], RETIRED, 66)
    # retired, level 3: 60.00 deductible, 14940.00 x 60 % = 8964.00 > 6000.00, which 6000 / 0.6 = 10000.00 covers;
    # over the cap 4940.00, the retirees' inpatient deductible 800.00 first, then (4940 - 800) x 85 % = 3519.00
    assert (only.over_cap_amt, only.inpatient_dedc, only.inpatient_pay) == (494_000, 80_000, 351_900)


def test_without_an_inpatient_deductible_the_whole_over_cap_cost_is_paid(book):
    (only,) = _year(compile_terms(book.policy_for("530000", date(2025, 1, 1))), [(1, 1_050_000)])
    # as in the first visit above, with Yunnan's own file (no inpatient deductible): 480 x 90 % = 432.00
    assert (only.over_cap_amt, only.inpatient_dedc, only.inpatient_pay) == (48_000, 0, 43_200)


def test_a_ratio_cut_lowers_every_ratio_and_never_below_zero(book):
    yangzhou = book.policy_for("321000", date(2024, 1, 1))
    cut = compile_terms(yangzhou, ratio_cut=2_000)
    # 20 points off: 70/65/60 % -> 50/45/40 % in service, 80/75/70 % -> 60/55/50 % retired
    assert [cut.lookup(IN_SERVICE, 40, level).ratios for level in (1, 2, 3)] == [(5_000,), (4_500,), (4_000,)]
    assert [cut.lookup(RETIRED, 70, level).ratios for level in (1, 2, 3)] == [(6_000,), (5_500,), (5_000,)]
    # the deductible and the cap stay: 1600.00 at level 1, 600.00 deductible, 1000.00 x 50 % = 500.00
    r = adjudicate(cut, IN_SERVICE, 40, 1, CLINIC, 160_000, Accumulators())
    assert (r.act_pay_dedc, r.hifp_pay, r.pool_prop) == (60_000, 50_000, 5_000)
    assert cut.lookup(IN_SERVICE, 40, 1).cap == compile_terms(yangzhou).lookup(IN_SERVICE, 40, 1).cap == 700_000
    assert compile_terms(yangzhou, ratio_cut=7_500).lookup(IN_SERVICE, 40, 1).ratios == (0,)  # 70 % - 75 points
    # the inpatient ratio above the cap is lowered too: Yunnan 90 % - 10 points = 80 %
    yunnan = compile_terms(book.policy_for("530000", date(2025, 1, 1)), ratio_cut=1_000)
    assert yunnan.lookup(IN_SERVICE, 40, 1).inpatient_ratio == 8_000


def test_a_disease_has_its_own_deductible_ratio_and_limit(book):
    yangzhou = book.policy_for("321000", date(2024, 1, 1))
    tumour = compile_disease(yangzhou, yangzhou.chronic.disease("M00500"))
    first, second = _year(tumour, [(3, 100_000), (1, 40_000)])
    # 1000.00 at level 3: the disease's own deductible 300.00 (not ordinary pooling's 600.00), 700 x 85 % = 595.00
    assert (first.act_pay_dedc, first.hifp_pay, first.pool_prop) == (30_000, 59_500, 8_500)
    # 400.00 at level 1: the deductible is paid; one ratio at every level, 85 %: 340.00
    assert (second.act_pay_dedc, second.hifp_pay, second.pool_prop) == (0, 34_000, 8_500)
    (retired,) = _year(tumour, [(2, 100_000)], RETIRED, 70)
    # retired: deductible 200.00, (1000 - 200) x 90 % = 720.00
    assert (retired.act_pay_dedc, retired.hifp_pay) == (20_000, 72_000)


def test_a_diseases_limit_is_its_cap_and_nothing_goes_to_the_inpatient_benefit(book):
    yangzhou = book.policy_for("321000", date(2024, 1, 1))
    pressure = compile_disease(yangzhou, yangzhou.chronic.disease("M03900"))
    assert not pressure.to_inpatient and pressure.accumulates and pressure.edges == (0,)
    first, second = _year(pressure, [(1, 200_000), (3, 100_000)])
    # 2000.00 at level 1, no deductible: 80 % = 1600.00
    assert (first.act_pay_dedc, first.hifp_pay) == (0, 160_000)
    # 1000.00 at level 3: 70 % = 700.00, but the limit 2000.00 leaves 400.00, which 400 / 0.7 = 571.43 covers:
    # 1000 - 571.43 = 428.57 over the limit, borne by the member
    assert (second.hifp_pay, second.over_cap_amt, second.inpatient_pay) == (40_000, 42_857, 0)
    assert second.psn_part_amt == 60_000  # 1000 - 400
    cut = compile_disease(yangzhou, yangzhou.chronic.disease("M03900"), ratio_cut=1_000)
    assert cut.lookup(IN_SERVICE, 40, 1).ratios == (7_000,)  # 80 % - 10 points


@pytest.mark.parametrize(("pooled", "paid"), [(True, 80_000), (False, 0)])
def test_a_disease_at_a_pharmacy_follows_the_versions_pharmacy_pooling(book, pooled, paid):
    yangzhou = book.policy_for("321000", date(2024, 1, 1))
    if not pooled:
        op = yangzhou.outpatient
        yangzhou = yangzhou.model_copy(update={"outpatient": op.model_copy(
            update={"pharmacy": op.pharmacy.model_copy(update={"pooled": False})})})
    terms = compile_disease(yangzhou, yangzhou.chronic.disease("M03900"))
    # 1000.00 on a level-1 prescription: 80 % = 800.00 where pharmacies are pooled
    assert adjudicate(terms, IN_SERVICE, 40, 1, PHARMACY, 100_000, Accumulators(), True).hifp_pay == paid
