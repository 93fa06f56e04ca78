"""Batches that run once per kind, region and period (a month's crediting, a year's interest).

The run row is written first, in the batch's own transaction, under a unique (kind, admdvs, period): a second
run finds it and does nothing, and one started at the same time fails on the unique key when the first commits
(PostgreSQL) or waits for the first's lock and then finds it (SQLite).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from gongji.store.db import transaction
from gongji.store.ledger import now
from gongji.store.tables import batch_runs

T = TypeVar("T")


def once(engine: Engine, kind: str, admdvs: str, period: date, work: Callable[[Connection, int], T]) -> T | None:
    """`work(conn, run_id)` in one transaction with the run's row, or None when this run was already made."""
    key = (batch_runs.c.kind == kind) & (batch_runs.c.admdvs == admdvs) & (batch_runs.c.period == period)
    try:
        with transaction(engine) as conn:
            if conn.execute(select(batch_runs.c.id).where(key)).first():
                return None
            run_id = conn.execute(insert(batch_runs).values(kind=kind, admdvs=admdvs, period=period, run_at=now())
                                  .returning(batch_runs.c.id)).scalar_one()
            return work(conn, run_id)
    except IntegrityError:
        # Another run of the same kind, region and period committed first.
        return None


def finish(conn: Connection, run_id: int, members: int, amount: int) -> None:
    """Record how many members the run moved money for, and how much."""
    conn.execute(update(batch_runs).where(batch_runs.c.id == run_id).values(members=members, amount=amount))
