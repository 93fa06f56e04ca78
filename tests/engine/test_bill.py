from hypothesis import given
from hypothesis import strategies as st

from gongji.engine.bill import CLASS_A, CLASS_B, CLASS_C, LineItem, split_bill, split_line

Y = 10_000  # one yuan in the engine's price scale


def test_class_a_is_all_covered():
    # 12.50 x 20 = 250.00
    assert split_line(LineItem("x", CLASS_A, 125_000, 20 * Y)) == (25000, 0, 0, 0, 25000)


def test_class_b_first_self_pay():
    # 48.00 x 3 = 144.00; 10% = 14.40 first; 129.60 covered
    assert split_line(LineItem("x", CLASS_B, 48 * Y, 3 * Y, None, 1000)) == (14400, 0, 0, 1440, 12960)


def test_above_the_payment_standard():
    # 35.00 x 2 = 70.00, standard 30.00 x 2 = 60.00: 10.00 over-limit; 5% of 60.00 = 3.00 first
    assert split_line(LineItem("x", CLASS_B, 35 * Y, 2 * Y, 30 * Y, 500)) == (7000, 0, 1000, 300, 5700)


def test_class_c_is_all_self_paid_even_above_a_standard():
    assert split_line(LineItem("x", CLASS_C, 80 * Y, Y, 50 * Y)) == (8000, 8000, 0, 0, 0)


def test_a_tablet_price_rounds_once_per_line():
    # 0.0325 x 30 = 0.975 -> 0.98 yuan
    assert split_line(LineItem("x", CLASS_A, 325, 30 * Y)).medfee_sumamt == 98


def test_price_below_the_standard_is_not_over_limit():
    assert split_line(LineItem("x", CLASS_A, 20 * Y, Y, 30 * Y)) == (2000, 0, 0, 0, 2000)


lines = st.lists(st.builds(
    LineItem, st.just("x"), st.sampled_from([CLASS_A, CLASS_B, CLASS_C]), st.integers(0, 10_000_000),
    st.integers(0, 1_000_000), st.one_of(st.none(), st.integers(0, 10_000_000)), st.integers(0, 10_000)),
    max_size=20)


@given(lines)
def test_the_four_parts_add_up_to_the_total(items):
    for line in items:
        part = split_line(line)
        assert min(part) >= 0
        assert part.fulamt_ownpay_amt + part.overlmt_selfpay + part.preselfpay_amt + part.inscp_scp_amt \
            == part.medfee_sumamt
    total = split_bill(items)
    assert total.fulamt_ownpay_amt + total.overlmt_selfpay + total.preselfpay_amt + total.inscp_scp_amt \
        == total.medfee_sumamt
