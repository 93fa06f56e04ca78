"""Smart monitoring's review queue (审核队列) and credit records (信用记录) for bureau staff: list and read hits,
confirm one (the claw-back, the member's cap room, the credit event) or dismiss one, read a credit record.

Every role reads. Deciding a hit changes records and moves money, so it takes the role that changes records
(operator or admin, as every other change here): an auditor reads the queue and the records but decides nothing.
The reviewer kept with the decision is the authenticated user; each decision writes an audit log row."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field
from sqlalchemy import Connection

from gongji.api.admin.auth import Operator, Reader
from gongji.api.admin.common import Body, Book, Db, Limit, Offset, Out, Page, Timestamp, Yuan, problems, refused, yuan
from gongji.services import audit_log, monitor_queue, prechecks
from gongji.services.monitor_queue import MAX_NOTES, UnknownHit
from gongji.store.db import transaction

router = APIRouter(tags=["monitoring"])


class Hit(Out):
    hit_id: str
    """stable: the same rule on the same settlement, line and national code is the same hit."""
    rule: str
    code: str
    """the national rule's code (GZ...) or name."""
    cls: str
    """明确违规 or 可疑."""
    setl_id: str
    line: int | None
    """feedetl_sn of the line; None for a rule about the whole claim."""
    psn_no: str
    fixmedins_code: str
    amount: Yuan
    """at stake."""
    evidence: str
    moment: str
    """pre (online, at settlement) or post (the batch after settlement)."""
    status: str
    reviewer: str | None
    notes: str | None
    found_at: Timestamp
    decided_at: Timestamp | None
    clawed_back: Yuan
    """what confirming it took back to the pool."""


class SettlementSummary(Out):
    setl_id: str
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    setl_date: date
    med_type: str
    setting: str
    insuplc_admdvs: str
    medfee_sumamt: Yuan
    inscp_scp_amt: Yuan
    hifp_pay: Yuan
    inpatient_pay: Yuan
    chronic_pay: Yuan
    fund_pay: Yuan
    """hifp_pay + inpatient_pay + chronic_pay: the most its hits together claw back."""
    acct_pay: Yuan
    acct_mulaid_pay: Yuan
    psn_cash_pay: Yuan
    dise_codg: str | None
    rxno: str | None
    reversed_by: str | None
    clawed_back: Yuan
    """by its confirmed hits so far."""


class Line(Out):
    feedetl_sn: int
    med_list_codg: str
    det_item_fee_sumamt: Yuan
    fulamt_ownpay_amt: Yuan
    overlmt_amt: Yuan
    preselfpay_amt: Yuan
    inscp_scp_amt: Yuan
    memo: str | None


class Evidence(Out):
    name: str
    value: str


class CreditEvent(Out):
    id: int
    subject_kind: str
    subject: str
    hit_id: str
    points: int
    reason: str
    at: Timestamp
    rule: str
    code: str
    cls: str
    setl_id: str


class HitDetail(Out):
    hit: Hit
    settlement: SettlementSummary
    lines: list[Line]
    evidence: list[Evidence]
    credit_events: list[CreditEvent]


class CreditRecord(Out):
    subject_kind: str
    subject: str
    score: int
    """the policy's starting score plus the events' points, never below 0."""
    events: list[CreditEvent]


class PrecheckWarning(Out):
    jr_id: str
    """违规标识, as 3101/3102 answered it."""
    fixmedins_code: str
    msgid: str
    infno: str
    """3101 (事前) or 3102 (事中)."""
    trig_scen: str
    psn_no: str
    mdtrt_id: str
    rule: str
    code: str
    cls: str
    line: int | None
    """the order's position in fsi_order_dtos; None for a rule about the whole encounter."""
    amount: Yuan
    evidence: str
    checked_at: Timestamp
    dspo_way: str | None
    """3103: 1 the institution went on (with dspo_way_rea), 2 it changed the orders; None: not answered."""
    dspo_way_rea: str | None
    warn_type: str | None
    disposed_at: Timestamp | None


class Decision(Body):
    notes: str | None = Field(default=None, max_length=MAX_NOTES)
    """why, in a few words."""


def _hit(h: dict) -> Hit:
    return Hit(**h | {"amount": yuan(h["amount"]), "clawed_back": yuan(h["clawed_back"])})


def _detail(view: dict) -> HitDetail:
    money = monitor_queue.in_yuan({"settlement": view["settlement"], "lines": view["lines"]})
    return HitDetail(hit=_hit(view["hit"]), settlement=SettlementSummary(**money["settlement"]),
                     lines=[Line(**line) for line in money["lines"]],
                     evidence=[Evidence(name=n, value=v) for n, v in view["evidence"]],
                     credit_events=[CreditEvent(**e) for e in view["credit_events"]])


def _shown(conn: Connection, hit_id: str) -> dict:
    try:
        return monitor_queue.show(conn, hit_id)
    except UnknownHit as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/monitor/hits", response_model=Page[Hit])
def read_hits(_user: Reader, engine: Db, limit: Limit = 100, offset: Offset = 0,
              status: Annotated[Literal["pending", "confirmed", "dismissed"] | None, Query(
                  description="only hits of this status (all when not given)")] = None,
              rule: Annotated[str | None, Query(max_length=30, description="only this rule's hits")] = None,
              institution: Annotated[str | None, Query(max_length=12, description="only hits on this "
                                                       "institution's settlements (fixmedins_code)")] = None,
              ) -> Page[Hit]:
    """The review queue, oldest first."""
    with refused(), engine.connect() as conn:
        total = monitor_queue.queue_size(conn, status, rule, institution)
        hits = monitor_queue.queue(conn, status, rule, institution, limit, offset)
    return Page[Hit](total=total, limit=limit, offset=offset, items=[_hit(h) for h in hits])


@router.get("/monitor/hits/{hit_id}", response_model=HitDetail, responses=problems(404))
def read_hit(hit_id: str, _user: Reader, engine: Db) -> HitDetail:
    """One hit: the rule, the evidence, its settlement and lines, and its credit events."""
    with engine.connect() as conn:
        return _detail(_shown(conn, hit_id))


def _decided(engine, hit_id: str, user, action: str, decide) -> HitDetail:
    """Decide the hit and log the change (the hit before and after) in one transaction."""
    with refused(), transaction(engine) as conn:
        before = _shown(conn, hit_id)["hit"]
        after = decide(conn)
        audit_log.record(conn, user.name, action, hit_id, before,
                         after["hit"] | {"credit_events": after["credit_events"]})
    return _detail(after)


@router.post("/monitor/hits/{hit_id}/confirm", response_model=HitDetail, responses=problems(400, 404))
def confirm_hit(hit_id: str, body: Decision, user: Operator, engine: Db, book: Book) -> HitDetail:
    """Confirm a pending hit: the fund's money it names goes back to the pool, the member's year gets the cap
    room back, and the responsible institution or member gets the policy's credit points. The reviewer is you."""
    return _decided(engine, hit_id, user, "monitor.confirm",
                    lambda conn: monitor_queue.confirm_in(conn, book, hit_id, user.name, body.notes))


@router.post("/monitor/hits/{hit_id}/dismiss", response_model=HitDetail, responses=problems(400, 404))
def dismiss_hit(hit_id: str, body: Decision, user: Operator, engine: Db) -> HitDetail:
    """Dismiss a pending hit: no money moves and no credit points. The reviewer is you."""
    return _decided(engine, hit_id, user, "monitor.dismiss",
                    lambda conn: monitor_queue.dismiss_in(conn, hit_id, user.name, body.notes))


@router.get("/monitor/credit/{kind}/{subject}", response_model=CreditRecord, responses=problems(404))
def read_credit(kind: Literal["institution", "member"], subject: str, _user: Reader, engine: Db,
                book: Book) -> CreditRecord:
    """The credit record (信用记录) of an institution (fixmedins_code) or a member (psn_no)."""
    with refused(404), engine.connect() as conn:
        score, events = monitor_queue.credit_record(conn, book, kind, subject)
    return CreditRecord(subject_kind=kind, subject=subject, score=score, events=[CreditEvent(**e) for e in events])


@router.get("/monitor/prechecks", response_model=Page[PrecheckWarning])
def read_prechecks(_user: Reader, engine: Db, limit: Limit = 100, offset: Offset = 0,
                   date_from: Annotated[date | None, Query(alias="from", description="checked on or after")] = None,
                   date_to: Annotated[date | None, Query(alias="to", description="checked on or before")] = None,
                   institution: Annotated[str | None, Query(max_length=12, description="fixmedins_code")] = None,
                   answer: Annotated[Literal["1", "2", "none"] | None, Query(
                       description="1 went on, 2 changed the orders, none not answered (3103)")] = None,
                   ) -> Page[PrecheckWarning]:
    """The warnings the pre-check (3101, 3102) answered institutions, newest first, and what each did (3103)."""
    with engine.connect() as conn:
        total, found = prechecks.warnings(conn, date_from, date_to, institution, answer, limit, offset)
    return Page[PrecheckWarning](total=total, limit=limit, offset=offset, items=[
        PrecheckWarning(**w | {"amount": yuan(w["amount"])}) for w in found])
