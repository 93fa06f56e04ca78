"""Splitting a bill into the national platform's four parts, line by line.

medfee_sumamt = fulamt_ownpay_amt (全自费) + overlmt_selfpay (超限价自付) + preselfpay_amt (先行自付)
              + inscp_scp_amt (政策范围内), exactly, for every line and so for every bill.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from gongji.money import BP_ONE, div_half_up

CLASS_A = "A"
"""甲类: listed, fully within policy."""
CLASS_B = "B"
"""乙类: listed, the patient first pays a share (先行自付) of it."""
CLASS_C = "C"
"""丙类 or not in the catalogue: fully self-paid (全自费)."""

PRICE_SCALE = 10_000
"""Unit prices and quantities are held in ten-thousandths (a tablet may cost 0.0325 yuan)."""
_FEN_DIVISOR = PRICE_SCALE * PRICE_SCALE // 100


class LineItem(NamedTuple):
    """One fee line: unit price and payment standard (医保支付标准) in 1/10000 yuan, quantity in 1/10000."""

    code: str
    item_class: str
    price: int
    quantity: int
    standard: int | None = None
    first_selfpay_bp: int = 0


class BillSplit(NamedTuple):
    medfee_sumamt: int
    fulamt_ownpay_amt: int
    overlmt_selfpay: int
    preselfpay_amt: int
    inscp_scp_amt: int

    def __add__(self, other: object) -> BillSplit:  # type: ignore[override]
        if not isinstance(other, BillSplit):
            return NotImplemented
        return BillSplit(*(a + b for a, b in zip(self, other, strict=True)))


NO_BILL = BillSplit(0, 0, 0, 0, 0)


def covered_only(inscp_scp_amt: int) -> BillSplit:
    """A bill given as its policy-covered amount alone."""
    return BillSplit(inscp_scp_amt, 0, 0, 0, inscp_scp_amt)


def line_amount(price: int, quantity: int) -> int:
    """A line's amount in fen (det_item_fee_sumamt): unit price x quantity, both in 1/10000, half-up."""
    return div_half_up(price * quantity, _FEN_DIVISOR)


def split_line(line: LineItem) -> BillSplit:
    """The four parts of one line, each rounded half-up to the fen once; they add up to the line's amount."""
    amount = line_amount(line.price, line.quantity)
    if line.item_class == CLASS_C:
        return BillSplit(amount, amount, 0, 0, 0)
    if line.standard is not None and line.price > line.standard:
        within = line_amount(line.standard, line.quantity)
    else:
        within = amount
    first_selfpay = div_half_up(within * line.first_selfpay_bp, BP_ONE) if line.item_class == CLASS_B else 0
    return BillSplit(amount, 0, amount - within, first_selfpay, within - first_selfpay)


def split_bill(lines: Iterable[LineItem]) -> BillSplit:
    """The bill's totals: the sum of its lines' parts."""
    total = NO_BILL
    for line in lines:
        total = total + split_line(line)
    return total
