"""Read-only queries the admin API pages through: persons, relations, authorizations, account movements,
settlements and batch runs. Rows come back as dicts, amounts in fen; a page is (total, rows)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import Connection, Engine, Select, func, or_, select

from gongji.services.settlement import Settlement
from gongji.store.ledger import ACCOUNT
from gongji.store.tables import authorizations, batch_runs, ledger, persons, relations, settlement_lines, settlements

Page = tuple[int, list[dict]]


def _page(conn: Connection, query: Select, order, limit: int, offset: int) -> Page:
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = conn.execute(query.order_by(*order).limit(limit).offset(offset)).mappings().all()
    return total, [dict(r) for r in rows]


def persons_page(engine: Engine, limit: int, offset: int, insuplc_admdvs: str | None = None,
                 psn_name: str | None = None, psn_insu_stas: str | None = None) -> Page:
    """Persons in psn_no order; `psn_name` matches a part of the name."""
    query = select(persons)
    if insuplc_admdvs is not None:
        query = query.where(persons.c.insuplc_admdvs == insuplc_admdvs)
    if psn_name is not None:
        query = query.where(persons.c.psn_name.contains(psn_name, autoescape=True))
    if psn_insu_stas is not None:
        query = query.where(persons.c.psn_insu_stas == psn_insu_stas)
    with engine.connect() as conn:
        return _page(conn, query, [persons.c.psn_no], limit, offset)


def person(engine: Engine, psn_no: str) -> dict | None:
    with engine.connect() as conn:
        return person_in(conn, psn_no)


def person_in(conn: Connection, psn_no: str) -> dict | None:
    """The person as `conn` sees it (inside a transaction: with its changes)."""
    found = conn.execute(select(persons).where(persons.c.psn_no == psn_no)).mappings().first()
    return None if found is None else dict(found)


def relations_of(engine: Engine, psn: Mapping) -> list[dict]:
    """The relations `psn` registered and those registered naming `psn` as the relative, in the order added."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(relations.c.psn_no, relations.c.relative_certno, relations.c.relative_name, relations.c.relation)
            .where(or_(relations.c.psn_no == psn["psn_no"], relations.c.relative_certno == psn["certno"]))
            .order_by(relations.c.id)).mappings()]


def authorizations_of(engine: Engine, psn_no: str) -> list[dict]:
    """Every authorization from or to `psn_no`'s account, revoked ones included, in the order granted."""
    a = authorizations.c
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(a.owner_psn_no, a.user_psn_no, a.relation, a.granted_at, a.revoked_at)
            .where(or_(a.owner_psn_no == psn_no, a.user_psn_no == psn_no)).order_by(a.granted_at, a.id)).mappings()]


def movements(engine: Engine, psn_no: str, limit: int, offset: int) -> Page:
    """The ledger rows of `psn_no`'s account, newest first."""
    query = select(ledger).where(ledger.c.fund == ACCOUNT, ledger.c.holder == psn_no)
    with engine.connect() as conn:
        return _page(conn, query, [ledger.c.id.desc()], limit, offset)


def settlements_page(engine: Engine, limit: int, offset: int, psn_no: str | None = None,
                     fixmedins_code: str | None = None, first: date | None = None, last: date | None = None) -> Page:
    """Settlements and reversals in the order made, newest first; `first`..`last` bound setl_date."""
    s = settlements.c
    query = select(settlements)
    for column, value in ((s.psn_no, psn_no), (s.fixmedins_code, fixmedins_code)):
        if value is not None:
            query = query.where(column == value)
    if first is not None:
        query = query.where(s.setl_date >= first)
    if last is not None:
        query = query.where(s.setl_date <= last)
    with engine.connect() as conn:
        return _page(conn, query, [s.id.desc()], limit, offset)


def settlement(engine: Engine, setl_id: str) -> Settlement | None:
    with engine.connect() as conn:
        row = conn.execute(select(settlements).where(settlements.c.setl_id == setl_id)).mappings().first()
        if row is None:
            return None
        lines = conn.execute(select(settlement_lines).where(settlement_lines.c.setl_id == setl_id)
                             .order_by(settlement_lines.c.feedetl_sn)).mappings().all()
    return Settlement(row, list(lines))


def batch_runs_page(engine: Engine, limit: int, offset: int) -> Page:
    """Crediting and interest runs, newest first."""
    with engine.connect() as conn:
        return _page(conn, select(batch_runs), [batch_runs.c.id.desc()], limit, offset)
