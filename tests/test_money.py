import pytest

from gongji.money import (
    MoneyError,
    div_half_up,
    format_grouped,
    format_percent,
    format_ratio,
    format_share,
    format_yuan,
    parse_ratio,
    yuan_to_fen,
)


@pytest.mark.parametrize(("num", "den", "expected"), [
    (5, 10, 1),      # 0.5 rounds up
    (4, 10, 0),
    (15, 10, 2),
    (25, 10, 3),     # 2.5 -> 3, where banker's rounding gives 2
    (-5, 10, -1),    # half away from zero
    (-4, 10, 0),
    (75_000, 10_000, 8),  # 7.5 fen -> 8 fen
])
def test_div_half_up(num, den, expected):
    assert div_half_up(num, den) == expected


def test_parse_and_format_yuan():
    assert yuan_to_fen("1234.56") == 123456
    assert yuan_to_fen("7") == 700
    assert yuan_to_fen("0.5") == 50
    assert yuan_to_fen("-0.05") == -5
    assert format_yuan(123456) == "1234.56"
    assert format_yuan(5) == "0.05"
    assert format_yuan(-5) == "-0.05"


@pytest.mark.parametrize("bad", ["1.234", "abc", "", "1,000.00", "1e3", "nan", "inf", None, [1]])
def test_yuan_refuses(bad):
    with pytest.raises(MoneyError):
        yuan_to_fen(bad)


def test_yuan_to_fen_accepts_numbers_but_not_a_third_decimal():
    assert yuan_to_fen(600) == 60000
    assert yuan_to_fen(0.1) == 10
    assert yuan_to_fen("600.00") == 60000
    with pytest.raises(MoneyError):
        yuan_to_fen(0.001)
    with pytest.raises(MoneyError):
        yuan_to_fen(True)


def test_ratios():
    assert parse_ratio("70%") == 7000
    assert parse_ratio(0.7) == 7000
    assert parse_ratio("2.5%") == 250
    assert format_ratio(7000) == "0.7000"
    assert format_ratio(10_000) == "1.0000"
    assert format_percent(250) == "2.5%"
    with pytest.raises(MoneyError):
        parse_ratio("70.001%")


def test_amounts_and_shares_for_people():
    assert [format_grouped(f) for f in (None, 0, -5, 123456789)] == ["-", "0.00", "-0.05", "1,234,567.89"]
    # 1 of 3 is 33.33...% -> 33.3%; 2 of 3 is 66.66...% -> 66.7%; nothing of nothing has no share
    assert [format_share(1, 3), format_share(2, 3), format_share(0, 0)] == ["33.3%", "66.7%", "-"]
