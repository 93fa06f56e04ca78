"""The knowledge base (知识库) in the database: restrictions loaded as a `Knowledge`, and written back.

The table `knowledge` holds one row per restriction, in a `Restriction`'s fields (limit as limit_value). A
restriction is identified by (rule, code, other_code, begndate): no two of one (rule, code, other_code) overlap in
time, so no two start on the same day. (other_code is "" but for the rules about a pair of items, where one code
may have several partners.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from gongji.monitor.knowledge import Knowledge, Restriction
from gongji.store.tables import knowledge

CHUNK = 900
"""codes per IN (...) query: below SQLite's old limit of 999 bound parameters."""


def from_row(row: Mapping) -> Restriction:
    return Restriction(code=row["code"], rule=row["rule"], limit=row["limit_value"], unit=row["unit"],
                       other_code=row["other_code"], begndate=row["begndate"], enddate=row["enddate"],
                       source=row["source"])


def to_row(r: Restriction) -> dict:
    return {"code": r.code, "rule": r.rule, "limit_value": r.limit, "unit": r.unit, "other_code": r.other_code,
            "begndate": r.begndate, "enddate": r.enddate, "source": r.source}


def stored_restrictions(conn: Connection, rule: str | None = None, code: str | None = None) -> list[Restriction]:
    """The stored restrictions (of `rule`, of `code`), by rule, code, other_code and begndate."""
    query = select(knowledge).order_by(knowledge.c.rule, knowledge.c.code, knowledge.c.other_code,
                                       knowledge.c.begndate)
    if rule is not None:
        query = query.where(knowledge.c.rule == rule)
    if code is not None:
        query = query.where(knowledge.c.code == code)
    return [from_row(row) for row in conn.execute(query).mappings()]


def load_knowledge(conn: Connection) -> Knowledge:
    """Every stored restriction, indexed for the checkers."""
    return Knowledge(stored_restrictions(conn))


def restrictions_of(conn: Connection, keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str],
                                                                             list[Restriction]]:
    """The stored restrictions of each (rule, code, other_code) in `keys`, by begndate."""
    wanted = set(keys)
    codes = sorted({code for _rule, code, _other in wanted})
    found: dict[tuple[str, str, str], list[Restriction]] = {}
    for i in range(0, len(codes), CHUNK):
        query = select(knowledge).where(knowledge.c.code.in_(codes[i:i + CHUNK])).order_by(knowledge.c.begndate)
        for row in conn.execute(query).mappings():
            key = (row["rule"], row["code"], row["other_code"])
            if key in wanted:
                found.setdefault(key, []).append(from_row(row))
    return found


def save_restrictions(conn: Connection, new: Sequence[Restriction], changed: Sequence[Restriction],
                      recorded_at: datetime) -> None:
    """Insert `new` and replace the stored restrictions of `changed` (found by rule, code, other_code and
    begndate), in the caller's transaction. The caller has checked that none overlaps another of its kind."""
    if new:
        conn.execute(knowledge.insert(), [to_row(r) | {"recorded_at": recorded_at} for r in new])
    for r in changed:
        conn.execute(update(knowledge)
                     .where(knowledge.c.rule == r.rule, knowledge.c.code == r.code,
                            knowledge.c.other_code == r.other_code, knowledge.c.begndate == r.begndate)
                     .values(**to_row(r), recorded_at=recorded_at))
