"""The national platform's message envelope (NHSA.md §3): the request's top-level keys, the response, amounts in
yuan as JSON numbers, and validation errors said in Chinese with the field path."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from gongji.engine.bill import PRICE_SCALE
from gongji.errors import short_repr
from gongji.money import MoneyError, to_decimal

SUCCESS, FAILURE = 0, -1
MAX_AMOUNT = 100_000_000
"""One bill or fee line above a million yuan (in fen) is taken for a mistake (an absurd amount)."""
MAX_SCALED = 1_000_000 * PRICE_SCALE
"""Unit prices and quantities above a million are taken for mistakes."""


def _text(value: object) -> object:
    """Codes arrive as strings or numbers ("11" or 11); treat both as the string."""
    if isinstance(value, bool):
        raise ValueError("应为字符串")
    return str(value) if isinstance(value, int) else value


Code = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=30)]
"""A code value, opaque (provinces extend the national tables)."""


def code(max_length: int) -> object:
    """A required code or number of at most `max_length` characters (its column's)."""
    return Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=max_length)]
OptionalText = Annotated[Annotated[str, Field(max_length=500)] | None, BeforeValidator(_text)]
"""An optional text; JSON null and a missing key are the same."""


def _blank(value: object) -> object:
    value = _text(value)
    return None if value == "" else value


def optional(max_length: int) -> object:
    """An optional text of at most `max_length` characters (its column's); null, a missing key and "" are none."""
    return Annotated[Annotated[str, Field(max_length=max_length)] | None, BeforeValidator(_blank)]


OptionalCode = optional(30)
"""An optional code (a column of 30 characters)."""


def _decimal(value: object, scale: int, limit: int, what: str) -> int:
    try:
        number = to_decimal(value, what) * scale
    except MoneyError:
        raise ValueError(f"应为{what}数字") from None
    if number != number.to_integral_value():
        decimals = {100: "两", PRICE_SCALE: "四"}[scale]
        raise ValueError(f"{what}最多{decimals}位小数")
    if number < 0:
        raise ValueError(f"{what}不能为负数")
    if number > limit:
        raise ValueError(f"{what}超出合理范围（不超过 {limit // scale}）")
    return int(number)


Amount = Annotated[int, BeforeValidator(lambda v: _decimal(v, 100, MAX_AMOUNT, "金额"))]
"""An amount in yuan (numeric(16,2)), held as fen."""
Price = Annotated[int, BeforeValidator(lambda v: _decimal(v, PRICE_SCALE, MAX_SCALED, "单价"))]
Count = Annotated[int, BeforeValidator(lambda v: _decimal(v, PRICE_SCALE, MAX_SCALED, "数量"))]


def _datetime(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                pass
        raise ValueError("应为 yyyy-MM-dd HH:mm:ss 格式的时间")
    raise ValueError("应为 yyyy-MM-dd HH:mm:ss 格式的时间")


Time = Annotated[datetime, BeforeValidator(_datetime)]


def _day(value: object) -> date:
    """A date as yyyy-MM-dd; clients also send a date as a time (yyyy-MM-dd HH:mm:ss), whose day counts."""
    try:
        return _datetime(value).date()
    except ValueError:
        raise ValueError("应为 yyyy-MM-dd 格式的日期") from None


Day = Annotated[date, BeforeValidator(_day)]


def _whole(value: object) -> int:
    """A whole number sent as a number or a string (7, "7", 7.0 or "7.00")."""
    try:
        number = to_decimal(value, "整数")
    except MoneyError:
        raise ValueError("应为整数") from None
    if number != number.to_integral_value():
        raise ValueError("应为整数")
    return int(number)


Whole = Annotated[int, BeforeValidator(_whole)]
"""A whole number (days, counts); bounds go with the field (Field(ge=..., le=...))."""


class Node(BaseModel):
    """An input node: unknown keys are accepted and ignored, as provinces add their own."""

    model_config = ConfigDict(extra="ignore")


class Envelope(Node):
    """The request's top-level keys (入参报文)."""

    infno: Code
    msgid: Annotated[str, Field(min_length=1, max_length=40)]
    mdtrtarea_admvs: Code
    insuplc_admdvs: OptionalText = None
    recer_sys_code: Code
    infver: Code
    opter_type: Code
    opter: Code
    opter_name: Annotated[str, Field(min_length=1, max_length=50)]
    inf_time: Time
    fixmedins_code: Code
    fixmedins_name: Annotated[str, Field(min_length=1, max_length=200)]
    sign_no: OptionalText = None
    input: dict[str, Any]


_MESSAGES = {
    "missing": "缺少必填字段",
    "string_type": "应为字符串",
    "dict_type": "应为对象（JSON object）",
    "model_type": "应为对象（JSON object）",
    "model_attributes_type": "应为对象（JSON object）",
    "list_type": "应为数组",
    "too_short": "不能为空",
    "string_too_short": "不能为空",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
}


_BOUNDS = {"greater_than": "应大于 {}", "greater_than_equal": "不能小于 {}", "less_than": "应小于 {}",
           "less_than_equal": "不能大于 {}"}


def zh_errors(exc: ValidationError, root: str) -> str:
    """The first validation error as 'path: 原因（值：...）', the path from the envelope down."""
    err = exc.errors()[0]
    path = root
    if not root and not err["loc"]:
        path = "请求报文"
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    kind = err["type"]
    if kind == "missing":
        return f"{path}: 缺少必填字段"
    if kind == "string_too_long":
        reason = f"长度超过 {err['ctx']['max_length']} 个字符"
    elif kind == "string_pattern_mismatch":
        reason = "格式不符"
    elif kind == "literal_error":
        reason = f"应为 {err['ctx']['expected']}"
    elif kind == "too_long":
        reason = f"最多 {err['ctx']['max_length']} 项"
    elif kind in _BOUNDS:
        bound = next(iter(err["ctx"].values()))
        reason = _BOUNDS[kind].format(bound)
    else:
        reason = _MESSAGES.get(kind) or err["msg"].removeprefix("Value error, ")
    return f"{path}: {reason}（值：{short_repr(err.get('input'))}）"


def yuan(fen: int | None) -> float | None:
    """Fen as a JSON number of yuan. fen / 100 is the double nearest the two-decimal amount, so it prints as
    exactly that amount (12.34, never 12.339999)."""
    return None if fen is None else fen / 100


def ratio(bp: int | None) -> float | None:
    """Basis points as numeric(5,4): 7000 -> 0.7."""
    return None if bp is None else float(Decimal(bp) / 10_000)


def scaled(value: int | None) -> float | None:
    """A unit price or quantity held in 1/10000 as a JSON number."""
    return None if value is None else float(Decimal(value) / PRICE_SCALE)


def ref_msgid(admdvs: str, at: datetime) -> str:
    """inf_refmsgid: the receiver's admdvs (6) + yyyyMMddHHmmss (14) + a 10-digit serial."""
    return f"{admdvs[:6]:0<6}{at:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def response(infcode: int, output: object, err_msg: str | None, admdvs: str, at: datetime | None = None) -> dict:
    at = at or datetime.now()
    stamp = f"{at:%Y%m%d%H%M%S}{at.microsecond // 1000:03d}"
    return {"infcode": infcode, "inf_refmsgid": ref_msgid(admdvs, at), "refmsg_time": stamp,
            "respond_time": stamp, "err_msg": err_msg, "warn_msg": None, "cainfo": None, "signtype": None,
            "enctype": None, "output": output}
