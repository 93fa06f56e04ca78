"""Money as integer fen (分), ratios as integer basis points.

Shared by `policy` (to read amounts from files) and `engine` (to compute); it imports nothing of ours.
Yuan appear only at the edges, as strings with at most two decimals. Rounding is half-up (四舍五入).
"""

from __future__ import annotations

import re
from decimal import Decimal

FEN_PER_YUAN = 100
BP_ONE = 10_000
"""A ratio of 1 (100 %) in basis points; `pool_prop` is numeric(5,4), so four decimals are exact."""
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


class MoneyError(ValueError):
    """A value that is not an amount or a ratio; the message says why."""


def div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up (away from zero on .5), exactly, for a positive denominator."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def half_up_bp(weighted):
    """A non-negative amount x basis points back to fen, half-up; an int, a Polars or a SQL expression alike."""
    return (2 * weighted + BP_ONE) // (2 * BP_ONE)


def format_yuan(fen: int) -> str:
    """123456 fen -> '1234.56'; -5 -> '-0.05'."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{part:02d}"


def format_grouped(fen: int | None) -> str:
    """123456 fen -> '1,234.56', yuan with thousands separators for people to read; None -> '-' (no value)."""
    if fen is None:
        return "-"
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole:,}.{part:02d}"


def format_share(part: int, whole: int) -> str:
    """part / whole as a percent with one decimal for people to read ('36.5%'); '-' when whole is 0."""
    return f"{Decimal(100 * part) / whole:.1f}%" if whole else "-"


def to_decimal(value: object, what: str) -> Decimal:
    """A number from a file or request (str, int or float) as an exact Decimal; floats go through str."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise MoneyError(f"{value!r} is not a number ({what})")
    text = str(value).strip()
    if not _PLAIN_NUMBER.match(text):
        raise MoneyError(f"{value!r} is not a plain decimal number ({what})")
    return Decimal(text)


def yuan_to_fen(value: object) -> int:
    """An amount in yuan given as '600.00', 600 or 600.5 -> fen; more than two decimals is an error."""
    number = to_decimal(value, "amount in yuan")
    fen = number * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise MoneyError(f"{value!r} has more than two decimals (amount in yuan)")
    return int(fen)


def parse_ratio(value: object) -> int:
    """'70%', '0.70', 0.7 -> 7000 basis points; at most four decimals of the fraction."""
    text = value.strip() if isinstance(value, str) else value
    percent = isinstance(text, str) and text.endswith("%")
    number = to_decimal(text[:-1] if percent else text, "ratio")
    bp = number * (100 if percent else BP_ONE)
    if bp != bp.to_integral_value():
        raise MoneyError(f"{value!r} is finer than 0.01 % (ratio)")
    return int(bp)


def format_ratio(bp: int) -> str:
    """7000 -> '0.7000', the national platform's numeric(5,4) form of `pool_prop`."""
    return f"{bp // BP_ONE}.{bp % BP_ONE:04d}"


def format_percent(bp: int) -> str:
    """7000 -> '70%', 7050 -> '70.5%'."""
    text = f"{Decimal(bp) / 100:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"
