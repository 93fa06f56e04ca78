"""Amounts at the interface: fen out as JSON numbers of yuan that print exactly, yuan in as fen or a refusal."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from gongji.api.envelope import MAX_AMOUNT, Amount, yuan, zh_errors

AMOUNT = TypeAdapter(Amount)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_yuan_prints_exactly_the_two_decimal_amount(fen):
    printed = orjson.dumps(yuan(fen)).decode()
    assert Decimal(printed) * 100 == fen


@pytest.mark.parametrize("sent, fen", [(12.34, 1234), ("12.34", 1234), (0, 0), ("1000000", MAX_AMOUNT)])
def test_amounts_in(sent, fen):
    assert AMOUNT.validate_python(sent) == fen


@pytest.mark.parametrize("sent, reason", [(-1, "不能为负数"), ("1.234", "最多两位小数"), (1e12, "超出合理范围"),
                                          ("abc", "应为金额数字"), (True, "应为金额数字")])
def test_bad_amounts_are_said_in_chinese_with_the_value(sent, reason):
    with pytest.raises(ValidationError) as caught:
        AMOUNT.validate_python(sent)
    message = zh_errors(caught.value, "input.data.medfee_sumamt")
    assert message.startswith("input.data.medfee_sumamt: ") and reason in message and repr(sent) in message
