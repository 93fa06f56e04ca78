"""The data of the smart-monitoring report (`gongji monitor report`, gongji.monitor.report): the review queue's
hits of a period and region, and the institutions' anomaly scores.

The hits are those of settlements dated in the period (any status, whether found before or after settlement)
whose member is insured in the region (persons.insuplc_admdvs); the scores are `monitoring.scores` of the same
period and region.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy import Connection, Date, Engine, and_, func, select

from gongji.errors import InputError
from gongji.monitor import report
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services import monitoring
from gongji.store.tables import institutions, monitor_hits, persons, settlements

CHUNK = 500
"""codes per IN (...) list."""


def checked(book: PolicyBook, date_from: date, date_to: date, region: str) -> None:
    """The period runs forwards and the region has a policy in force at its end."""
    if date_to < date_from:
        raise InputError(f"--to: {date_to} is before --from {date_from}")
    try:
        book.policy_for(region, date_to)
    except PolicyNotFound as exc:
        raise InputError(f"--region {region}: {exc}") from None


def _in_period(date_from: date, date_to: date, region: str):
    return and_(settlements.c.setl_date >= date_from, settlements.c.setl_date <= date_to,
                persons.c.insuplc_admdvs == region)


def hits_of(conn: Connection, date_from: date, date_to: date, region: str) -> pl.DataFrame:
    """The period's hits grouped as gongji.monitor.report.HIT_COLUMNS (by rule, code, class, institution, status
    and the day found)."""
    h = monitor_hits.c
    found_on = func.date(h.found_at, type_=Date)
    keys = (h.rule, h.code, h.cls, h.fixmedins_code, h.status, found_on)
    rows = conn.execute(
        select(*keys, func.count(), func.sum(h.amount), func.sum(h.clawed_back))
        .select_from(monitor_hits.join(settlements, settlements.c.setl_id == h.setl_id)
                     .join(persons, persons.c.psn_no == settlements.c.psn_no))
        .where(_in_period(date_from, date_to, region))
        .group_by(*keys)).all()
    return pl.DataFrame([(*r[:6], int(r[6]), int(r[7]), int(r[8])) for r in rows],
                        schema=report.HIT_COLUMNS, orient="row")


def settlement_count(conn: Connection, date_from: date, date_to: date, region: str) -> int:
    """Standing settlements of the period's members of the region (a reversed one and its reversal left out)."""
    return conn.execute(
        select(func.count()).select_from(settlements.join(persons, persons.c.psn_no == settlements.c.psn_no))
        .where(_in_period(date_from, date_to, region), settlements.c.reverses.is_(None),
               settlements.c.reversed_by.is_(None))).scalar_one()


def names(conn: Connection, codes: set[str]) -> dict[str, str]:
    """fixmedins_code -> fixmedins_name of `codes`."""
    found: dict[str, str] = {}
    ordered = sorted(codes)
    for i in range(0, len(ordered), CHUNK):
        rows = conn.execute(select(institutions.c.fixmedins_code, institutions.c.fixmedins_name)
                            .where(institutions.c.fixmedins_code.in_(ordered[i:i + CHUNK])))
        found.update((code, name) for code, name in rows)
    return found


def gather(engine: Engine, book: PolicyBook, date_from: date, date_to: date, region: str,
           today: date | None = None) -> report.MonitorReport:
    """The report's figures for the period and region; the queue's age is counted to `today` (the date when not
    given). Reads only."""
    checked(book, date_from, date_to, region)
    today = today or date.today()
    with engine.connect() as conn:
        hits = hits_of(conn, date_from, date_to, region)
        count = settlement_count(conn, date_from, date_to, region)
    scored, _members, _accounts = monitoring.scores(engine, book, date_from, date_to, region)
    top = scored.frame.sort(["robust_score", "model_score", "entity"], descending=[True, True, False]) \
        .head(report.TOP_SCORES)
    with engine.connect() as conn:
        shown = names(conn, set(hits["fixmedins_code"].to_list()) | set(top["entity"].to_list()))
    return report.summarise(hits, scored.frame, shown, region=region, date_from=date_from, date_to=date_to,
                            today=today, settlements=count)
