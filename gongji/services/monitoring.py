"""`gongji monitor run --from DATE --to DATE` (事后): every monitoring rule over the stored claims of a period,
set-based (gongji.monitor.batch), the findings put in the review queue; and the anomaly scores of the period.

The rules that read a member's history see the claims of up to `LOOKBACK_DAYS` before the period; findings are
kept only for claims dated in it. Each insured region's claims are checked with its own thresholds (the policy
version in force at the period's end), and a rerun adds nothing the queue already holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from sqlalchemy import Connection, Engine, select

from gongji.errors import InputError
from gongji.monitor import anomaly, batch, rulebook
from gongji.monitor.checkers import Context
from gongji.monitor.kb_store import load_knowledge
from gongji.monitor.thresholds import thresholds_for, year_end_months
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services import monitor_queue
from gongji.services.claims import claim_frames, kinds
from gongji.services.records import member_type_on
from gongji.store.db import transaction
from gongji.store.tables import persons

LOOKBACK_DAYS = max(rule.history_days for rule in rulebook.RULES.values())
"""the longest history any rule reads."""
POST = "post"
"""a finding of the batch after settlement (事后)."""


@dataclass(frozen=True)
class RunResult:
    claims: int
    """claims of the period checked."""
    findings: pl.DataFrame
    """gongji.monitor.batch.FINDING_COLUMNS, of the period's claims."""
    added: int
    known: int


def _regions(conn: Connection) -> pl.DataFrame:
    return pl.DataFrame(conn.execute(select(persons.c.psn_no, persons.c.insuplc_admdvs)).all(),
                        schema={"psn_no": pl.String, "region": pl.String}, orient="row")


def _checked_period(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise InputError(f"--to: {date_to} is before --from {date_from}")


def findings_between(conn: Connection, book: PolicyBook, date_from: date, date_to: date,
                     region: str | None = None, advance: Callable[[str], None] = lambda step: None) \
        -> tuple[int, pl.DataFrame]:
    """(claims of the period, findings of every rule on them), read in `conn`."""
    _checked_period(date_from, date_to)
    claims, lines = claim_frames(conn, date_from - timedelta(days=LOOKBACK_DAYS), date_to)
    knowledge = load_knowledge(conn)
    context_kinds = kinds(conn)
    regions = _regions(conn)
    advance("claims read")
    claims = claims.join(regions, on="psn_no", how="left")
    if region is not None:
        claims = claims.filter(pl.col("region") == region)
    found = []
    in_period = claims.filter(pl.col("on") >= date_from)
    for code in sorted(claims["region"].unique().drop_nulls().to_list()):
        try:
            version = book.policy_for(code, date_to)
        except PolicyNotFound as exc:
            raise InputError(f"region {code}: {exc}") from None
        mine = claims.filter(pl.col("region") == code).drop("region")
        context = Context(knowledge, context_kinds, thresholds_for(version))
        frames = batch.Frames(mine, lines.filter(pl.col("key").is_in(mine["key"].implode())),
                              batch.knowledge_frame(knowledge), context)
        found.append(batch.run(frames))
        advance(f"rules of {code}")
    findings = pl.concat(found) if found else pl.DataFrame(schema=batch.FINDING_COLUMNS)
    findings = findings.filter(pl.col("claim").is_in(in_period["key"].implode()))
    return in_period.height, findings


def run(engine: Engine, book: PolicyBook, date_from: date, date_to: date, region: str | None = None,
        advance: Callable[[str], None] = lambda step: None) -> RunResult:
    """Every rule over the period's claims, the findings recorded in the queue (one transaction)."""
    with transaction(engine) as conn:
        count, findings = findings_between(conn, book, date_from, date_to, region, advance)
        added, known = monitor_queue.record(conn, findings, POST)
    return RunResult(count, findings, added, known)


def scores(engine: Engine, book: PolicyBook, date_from: date, date_to: date, region: str) \
        -> tuple[anomaly.Scores, anomaly.Scores, anomaly.Scores]:
    """The anomaly scores of the period's claims of `region`'s members: (institutions, members, accounts)."""
    _checked_period(date_from, date_to)
    try:
        months = year_end_months(book.policy_for(region, date_to))
    except PolicyNotFound as exc:
        raise InputError(f"--region {region}: {exc}") from None
    with engine.connect() as conn:
        claims, lines = claim_frames(conn, date_from, date_to)
        regions = _regions(conn)
        # the account holders, typed as on the period's last day
        holders = pl.DataFrame([(psn_no, gend, brdy, member_type_on(psn_type, retire_date, date_to))
                                for psn_no, gend, brdy, psn_type, retire_date in conn.execute(
                                    select(persons.c.psn_no, persons.c.gend, persons.c.brdy, persons.c.psn_type,
                                           persons.c.retire_date))],
                               schema={"psn_no": pl.String, "sex": pl.String, "birth_date": pl.Date,
                                       "member_type": pl.String}, orient="row")
    claims = claims.join(regions, on="psn_no").filter(pl.col("region") == region).drop("region")
    lines = lines.filter(pl.col("key").is_in(claims["key"].implode()))
    return (anomaly.institutions(claims, lines, months), anomaly.members(claims, months),
            anomaly.accounts(claims, holders, months))
