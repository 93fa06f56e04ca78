"""Oversight: the audit (稽核) of every balance against the ledger, the audit log of changes, the users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gongji.api.admin.auth import Admin, Reader
from gongji.api.admin.common import Db, Limit, Offset, Out, Timestamp, Yuan, yuan
from gongji.services import audit_log
from gongji.services.audit import audit
from gongji.services.users import list_users

router = APIRouter(tags=["oversight"])


class Audit(Out):
    """`gongji audit --json`, with the counts checked."""

    clean: bool
    """every balance equals its ledger and every settlement adds up."""
    differences: list[str]
    checked_accounts: int
    checked_settlements: int
    totals: dict[str, dict[str, Yuan]]
    """region -> total -> yuan."""


@router.get("/audit", response_model=Audit)
def run_audit(_user: Reader, engine: Db) -> Audit:
    report = audit(engine)
    return Audit(clean=report.clean, differences=report.differences, checked_accounts=report.checked_accounts,
                 checked_settlements=report.checked_settlements,
                 totals={r: {k: yuan(v) for k, v in t.items()} for r, t in report.totals.items()})


class AuditEntry(Out):
    """One change made through this API. before/after are the records as stored (amounts in fen), ID numbers
    masked."""

    id: int
    at: Timestamp
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@router.get("/audit-log", response_model=list[AuditEntry])
def read_audit_log(_user: Admin, engine: Db, limit: Limit = 100, offset: Offset = 0,
                   target: Annotated[str | None, Query(
                       description="a psn_no, an rxno, or 'admdvs YYYY-MM' of a run")] = None,
                   ) -> list[AuditEntry]:
    """The newest entries first. The log is append-only: no route changes or deletes an entry."""
    return [AuditEntry(**e) for e in audit_log.entries(engine, limit, offset, target)]


class StaffUser(Out):
    name: str
    role: str
    created_at: Timestamp


@router.get("/users", response_model=list[StaffUser])
def read_users(_user: Admin, engine: Db) -> list[StaffUser]:
    """The users of this API (tokens are never shown)."""
    return [StaffUser(**u) for u in list_users(engine)]
