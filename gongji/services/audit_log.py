"""The audit log (操作日志) of the admin API: who changed what, when, before and after. Append-only: rows are
written in the transaction of the change they describe and nothing here updates or deletes one."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import Connection, Engine, insert, select

from gongji.masking import mask_certno
from gongji.store.ledger import now
from gongji.store.tables import audit_log


def _masked(value: object) -> object:
    """`value` with every ID number (a key ending in certno) masked, at any depth."""
    if isinstance(value, Mapping):
        return {k: mask_certno(v) if str(k).endswith("certno") and isinstance(v, str) else _masked(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def _json(state: Mapping | None) -> str | None:
    return None if state is None else json.dumps(_masked(state), ensure_ascii=False, default=str, sort_keys=True)


def record(conn: Connection, actor: str, action: str, target: str, before: Mapping | None,
           after: Mapping | None) -> None:
    """One audit row in the caller's transaction; dates and datetimes are written as ISO text."""
    conn.execute(insert(audit_log).values(at=now(), actor=actor, action=action, target=target,
                                          before=_json(before), after=_json(after)))


def entries(engine: Engine, limit: int, offset: int, target: str | None = None) -> list[dict]:
    """The newest entries first, before and after as dicts."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    if target is not None:
        query = query.where(audit_log.c.target == target)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [dict(r) | {"before": _loaded(r["before"]), "after": _loaded(r["after"])} for r in rows]


def _loaded(text: str | None) -> dict | None:
    return None if text is None else json.loads(text)
