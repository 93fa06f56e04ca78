"""Personal accounts (个人账户): the balance and who may use it, as `gongji account --json` shows them, and the
account's ledger movements page by page."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from gongji.api.admin.auth import Reader
from gongji.api.admin.common import Db, Limit, Offset, Out, Page, Timestamp, Yuan, not_found, problems, refused, yuan
from gongji.services import lookup
from gongji.services.views import account_view

router = APIRouter(tags=["accounts"])


class RecentMovement(Out):
    occurred_on: str
    kind: str
    amount: Yuan
    psn_no: str | None
    """the relative whose settlement it paid, when not the owner's own."""
    setl_id: str | None
    memo: str | None


class AccountUser(Out):
    psn_no: str
    relation: str
    granted_at: Timestamp


class AccountOwner(Out):
    psn_no: str
    relation: str


class Account(Out):
    psn_no: str
    psn_name: str
    balc: Yuan
    closed_on: str | None
    movements: list[RecentMovement]
    """the 20 most recent."""
    authorized: list[AccountUser]
    """who may use this account besides the owner."""
    may_use: list[AccountOwner]
    """whose accounts the owner may also use."""


@router.get("/accounts/{psn_no}", response_model=Account, responses=problems(404))
def read_account(psn_no: str, _user: Reader, engine: Db) -> Account:
    # account_view refuses nothing but a person without an account.
    with refused(404):
        return Account(**account_view(engine, psn_no))


class Movement(Out):
    """One ledger row of the account: a credit (positive) or a payment (negative)."""

    id: int
    occurred_on: date
    recorded_at: Timestamp
    kind: str
    amount: Yuan
    psn_no: str | None
    """whose event it was: the owner, or the relative whose settlement the account paid."""
    setl_id: str | None
    run_id: int | None
    memo: str | None


@router.get("/accounts/{psn_no}/movements", response_model=Page[Movement], responses=problems(404))
def list_movements(psn_no: str, _user: Reader, engine: Db, limit: Limit = 100, offset: Offset = 0) -> Page[Movement]:
    """The account's ledger rows, newest first."""
    if lookup.person(engine, psn_no) is None:
        raise not_found(f"psn_no: {psn_no!r} is not a registered person")
    total, rows = lookup.movements(engine, psn_no, limit, offset)
    return Page(total=total, limit=limit, offset=offset,
                items=[Movement(**r | {"amount": yuan(r["amount"])}) for r in rows])
