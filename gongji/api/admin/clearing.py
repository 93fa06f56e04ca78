"""Clearing (清算) of cross-region care for a month: what each pooling region owes another, as
`gongji clearing --json` prints it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gongji.api.admin.auth import Reader
from gongji.api.admin.common import Book, Db, Out, Yuan, refused
from gongji.services import clearing

router = APIRouter(tags=["clearing"])


class Region(Out):
    admdvs: str
    name: str | None
    """from the policy file that serves the code (a county's or city's may be its province's); None if unknown."""


class Flow(Out):
    """The month's settlements of members insured in `insured` at institutions of `treating`."""

    insured: Region
    treating: Region
    settlements: int
    reversals: int
    """reversals of them: their negated amounts are in the sums."""
    medfee_sumamt: Yuan
    fund_pay: Yuan
    """hifp_pay + inpatient_pay + chronic_pay, paid from the insured region's pooled fund."""
    acct_pay: Yuan
    psn_cash_pay: Yuan
    owed: Yuan
    """fund_pay + acct_pay: what the insured region owes the treating region, which advanced it."""


class Net(Out):
    """Two regions' debts set off."""

    region_a: Region
    region_b: Region
    a_owes_b: Yuan
    b_owes_a: Yuan
    payer: str | None
    """who pays the net amount (None: even)."""
    payee: str | None
    amount: Yuan


class Clearing(Out):
    month: str
    flows: list[Flow]
    nets: list[Net]


@router.get("/clearing", response_model=Clearing)
def read_clearing(_user: Reader, engine: Db, book: Book,
                  month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])]) -> Clearing:
    """Cross-region settlements of the month (by setl_date) per insured and treating pooling region, and the net
    each pair of regions settles: the insured region owes the fund and account payments the treating one advanced."""
    with refused():
        result = clearing.clear_month(engine, book, month)
    return Clearing.model_validate(clearing.in_yuan(result))
