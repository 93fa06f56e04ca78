"""Properties of the sequential engine over random policies and visit sequences. The hand-worked amounts of
each region are in tests/cases/."""

from hypothesis import given, settings
from hypothesis import strategies as st

from gongji.engine.outpatient import Accumulators, adjudicate, split_member_share, within_cap
from gongji.engine.terms import compile_terms
from tests.engine.strategies import versions, visits


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
