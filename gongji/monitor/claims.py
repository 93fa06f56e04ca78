"""What a check looks at: one claim (a settlement or a settlement about to happen) and the member's earlier
claims. Plain values only (fen, dates, codes), so that the online checks inside a settlement and the batch over
stored claims (`batch`) read the same facts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple


class Line(NamedTuple):
    """费用明细: one fee line."""

    sn: int
    """feedetl_sn, the line's number in the claim (1-based)."""
    code: str
    """med_list_codg: the catalogue code."""
    quantity: Decimal
    price: int
    """unit price, fen (rounded half-up from the 4-decimal pric)."""
    amount: int
    """det_item_fee_sumamt, fen."""
    days: int | None = None
    """supply days of the drug on the prescription (medc_days), where there is one."""
    trace_code: str | None = None
    """药品追溯码: the drug package's traceability code."""


class Claim(NamedTuple):
    """One settlement, as the rules read it."""

    key: str
    """setl_id of a stored settlement; online, the claim's own reference."""
    seq: int
    """the order claims were settled in (settlements.id; online, after every stored one): a member's history is
    the claims before this one by (on, seq)."""
    psn_no: str
    sex: str
    """gend: 1 male, 2 female."""
    birth_date: date
    member_type: str
    fixmedins_code: str
    setting: str
    """clinic or pharmacy."""
    level: int
    """the institution's level; at a pharmacy, the prescriber's."""
    designated: bool
    """the institution is designated (定点) and not paused on the claim's date."""
    med_type: str
    on: date
    lines: tuple[Line, ...] = ()
    diagnoses: tuple[str, ...] = ()
    """diagnosis codes (ICD-10 of the visit, the prescription's, the chronic disease's)."""
    fund_paid: int = 0
    """hifp_pay + inpatient_pay + chronic_pay, fen: the money at stake."""
    in_stay: bool = False
    """an inpatient stay (住院) of the member covers the claim's date."""
    payer_psn_no: str | None = None
    """the relative whose account paid (家庭共济), if not the member's own."""
    rxno: str | None = None
    prescriber_code: str | None = None
    total: int = 0
    """medfee_sumamt, fen: the whole bill."""

    @property
    def age(self) -> int:
        before = (self.on.month, self.on.day) < (self.birth_date.month, self.birth_date.day)
        return self.on.year - self.birth_date.year - before

    @property
    def age_days(self) -> int:
        return (self.on - self.birth_date).days
