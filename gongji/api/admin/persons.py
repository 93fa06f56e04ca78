"""Insured persons (参保人), their family relations and the authorizations of family mutual aid (家庭共济)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Literal

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import Connection, Engine

from gongji.api.admin.auth import Operator, Reader
from gongji.api.admin.common import (
    Body,
    Book,
    Db,
    Limit,
    Offset,
    Out,
    Page,
    Timestamp,
    Yuan,
    not_found,
    problems,
    refused,
    yuan,
)
from gongji.masking import mask_certno
from gongji.services import account_use, audit_log, family, lookup
from gongji.services.imports import add_record
from gongji.services.records import PersonRecord, PsnNo, RelationRecord

router = APIRouter()
STATUS_FIELDS = ("psn_insu_stas", "stas_reason", "stas_date")


class Person(Out):
    """An insured person as registered; amounts in yuan. Lists mask certno."""

    psn_no: str
    psn_name: str
    certno: str
    gend: str
    brdy: date
    insutype: str
    psn_type: str
    retire_date: date | None
    insuplc_admdvs: str
    emp_name: str
    crt_cont_base: Yuan
    pension: Yuan
    psn_insu_stas: str
    psn_insu_date: date
    prev_year_credits: Yuan
    stas_reason: str | None
    stas_date: date | None


def person_out(row: Mapping, masked: bool = False) -> Person:
    amounts = {k: yuan(row[k]) for k in ("crt_cont_base", "pension", "prev_year_credits")}
    return Person.model_validate(dict(row) | amounts | ({"certno": mask_certno(row["certno"])} if masked else {}))


@router.get("/persons", response_model=Page[Person], tags=["persons"])
def list_persons(_user: Reader, engine: Db, limit: Limit = 100, offset: Offset = 0,
                 insuplc_admdvs: str | None = None, psn_name: str | None = None,
                 psn_insu_stas: Literal["1", "2", "4"] | None = None) -> Page[Person]:
    """Persons in psn_no order, ID numbers masked; psn_name matches a part of the name."""
    total, rows = lookup.persons_page(engine, limit, offset, insuplc_admdvs, psn_name, psn_insu_stas)
    return Page(total=total, limit=limit, offset=offset, items=[person_out(r, masked=True) for r in rows])


def _person(engine: Engine, psn_no: str) -> dict:
    found = lookup.person(engine, psn_no)
    if found is None:
        raise not_found(f"psn_no: {psn_no!r} is not a registered person")
    return found


@router.get("/persons/{psn_no}", response_model=Person, responses=problems(404), tags=["persons"])
def read_person(psn_no: str, _user: Reader, engine: Db) -> Person:
    """One person, with the full ID number."""
    return person_out(_person(engine, psn_no))


@router.post("/persons", status_code=201, response_model=Person, responses=problems(400, 409), tags=["persons"])
def create_person(record: PersonRecord, user: Operator, engine: Db, book: Book) -> Person:
    """Register one person as a CSV import of one row would, and open the account with `balc` (yuan) as its
    opening balance. A psn_no already registered is refused (409)."""
    def log(conn: Connection, row: dict) -> None:
        audit_log.record(conn, user.name, "person.create", record.psn_no, None, row | {"balc": record.balc or 0})

    with refused():
        add_record(engine, "persons", record, book, also=log)
    return person_out(_person(engine, record.psn_no))


class StatusChange(Body):
    psn_insu_stas: Literal["1", "2", "4"]
    """1 normal, 2 paused, 4 terminated."""
    on: date
    reason: str = Field(default="", max_length=20)
    """e.g. death: the balance then goes to `heir` and the account closes."""
    heir: str = Field(default="", max_length=50)


class StatusChanged(Out):
    psn_no: str
    psn_insu_stas: str
    stas_reason: str | None
    stas_date: date | None
    paid_to_heir: Yuan


@router.post("/persons/{psn_no}/status", response_model=StatusChanged, responses=problems(400, 404),
             tags=["persons"])
def change_status(psn_no: str, change: StatusChange, user: Operator, engine: Db) -> StatusChanged:
    """Set psn_insu_stas; on death the balance is paid to the heir and the account closed."""
    _person(engine, psn_no)

    def log(conn: Connection, before: dict) -> None:
        after = lookup.person_in(conn, psn_no)
        audit_log.record(conn, user.name, "person.status", psn_no, {k: before[k] for k in STATUS_FIELDS},
                         {k: after[k] for k in STATUS_FIELDS} | ({"heir": change.heir} if change.heir else {}))

    with refused():
        paid = account_use.change_status(engine, psn_no, change.psn_insu_stas, change.on, change.reason,
                                         change.heir, also=log)
    after = _person(engine, psn_no)
    return StatusChanged(**{k: after[k] for k in ("psn_no", *STATUS_FIELDS)}, paid_to_heir=yuan(paid))


class Relation(Out):
    """`relative_certno` is `psn_no`'s spouse, parent or child."""

    psn_no: str
    relative_certno: str
    relative_name: str
    relation: str


@router.get("/persons/{psn_no}/relations", response_model=list[Relation], responses=problems(404),
            tags=["relations"])
def list_relations(psn_no: str, _user: Reader, engine: Db) -> list[Relation]:
    """The relations the person registered and those naming the person as the relative; ID numbers masked."""
    return [Relation(**r | {"relative_certno": mask_certno(r["relative_certno"])})
            for r in lookup.relations_of(engine, _person(engine, psn_no))]


@router.post("/relations", status_code=201, response_model=Relation, responses=problems(400, 409),
             tags=["relations"])
def create_relation(record: RelationRecord, user: Operator, engine: Db, book: Book) -> Relation:
    """Register a relation as a CSV import of one row would; one already registered is refused (409)."""
    def log(conn: Connection, row: dict) -> None:
        audit_log.record(conn, user.name, "relation.create", record.psn_no, None, row)

    with refused():
        row = add_record(engine, "relations", record, book, also=log)
    return Relation(**row)


class Authorization(Out):
    """`user_psn_no` may use `owner_psn_no`'s account (until revoked)."""

    owner_psn_no: str
    user_psn_no: str
    relation: str
    granted_at: Timestamp
    revoked_at: Timestamp | None


class AuthorizationRequest(Body):
    owner_psn_no: PsnNo
    user_psn_no: PsnNo
    """a spouse, parent or child of the owner, by a registered relation."""


@router.get("/persons/{psn_no}/authorizations", response_model=list[Authorization], responses=problems(404),
            tags=["authorizations"])
def list_authorizations(psn_no: str, _user: Reader, engine: Db) -> list[Authorization]:
    """Every authorization from or to the person's account, revoked ones included."""
    _person(engine, psn_no)
    return [Authorization(**a) for a in lookup.authorizations_of(engine, psn_no)]


@router.post("/authorizations", status_code=201, response_model=Authorization, responses=problems(400),
             tags=["authorizations"])
def authorize(body: AuthorizationRequest, user: Operator, engine: Db) -> Authorization:
    """Let a spouse, parent or child use the owner's account."""
    def log(conn: Connection, row: dict) -> None:
        audit_log.record(conn, user.name, "authorization.grant", body.owner_psn_no, None, row)

    with refused():
        row = family.authorize(engine, body.owner_psn_no, body.user_psn_no, also=log)
    return Authorization(**row)


@router.delete("/authorizations/{owner_psn_no}/{user_psn_no}", response_model=Authorization,
               responses=problems(404), tags=["authorizations"])
def revoke(owner_psn_no: str, user_psn_no: str, user: Operator, engine: Db) -> Authorization:
    """End the use of the owner's account; an authorization that is not active is not found."""
    def log(conn: Connection, row: dict) -> None:
        audit_log.record(conn, user.name, "authorization.revoke", owner_psn_no, row | {"revoked_at": None}, row)

    # Every refusal of revoke is something missing: the owner, the user or an active authorization.
    with refused(404):
        row = family.revoke(engine, owner_psn_no, user_psn_no, also=log)
    return Authorization(**row)
