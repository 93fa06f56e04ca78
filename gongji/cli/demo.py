"""`gongji demo`: the main job on a fresh database (see gongji.demo)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from gongji import demo
from gongji.cli.common import app, book_or_fail, console, fail, progress_bar
from gongji.cli.monitor import findings_table
from gongji.cli.ops import Db, engine_or_fail
from gongji.money import format_yuan
from gongji.services import account_use, crediting, imports, knowledge_import, monitor_queue, monitoring
from gongji.services.audit import audit
from gongji.store.db import database_url
from gongji.store.migrate import upgrade
from gongji.store.tables import persons

DEMO_DB = Path("var") / "demo.sqlite"
RESERVE_FEN = 50_000_000_00
"""the pool's reserve carried over from 2023 (累计结存), illustrative."""


def _monitor(engine, book) -> None:
    """The year's claims through every monitoring rule (事后), after the checks inside each settlement (事中)."""
    run = monitoring.run(engine, book, date(demo.YEAR, 1, 1), date(demo.YEAR, 12, 31), demo.REGION)
    with engine.connect() as conn:
        pending = monitor_queue.queue_size(conn)
    console().print(f"monitoring {demo.YEAR}: {run.claims} claims, {run.findings.height} findings "
                    f"({run.known} already queued by the checks inside the settlements, {run.added} new); "
                    f"{pending} hits pending review (gongji monitor queue)")
    console().print(findings_table(run.findings))


@app.command("demo")
def demo_command(
    members: Annotated[int, typer.Option(help="members to generate")] = 10_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 2024,
    db: Db = None,
) -> None:
    """Generate a Yangzhou population and run 2024 on a fresh database: import (the shipped knowledge base of
    monitoring restrictions too), qualify some members for a chronic disease, credit every month, settle a year of
    visits (pharmacy sales on recorded prescriptions, chronic disease visits, some from a relative's account, a few
    reversed, the monitoring rules checking each), then the figures, the year through every monitoring rule and the
    audit."""
    started = time.perf_counter()
    if db is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEMO_DB}{suffix}").unlink(missing_ok=True)
        db = f"sqlite:///{DEMO_DB}"
    engine = engine_or_fail(db, migrate=True)
    upgrade(engine)
    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(persons)).scalar_one():
            fail(f"{database_url(db)} already holds persons; the demo needs an empty database")
    book = book_or_fail(None)
    out = console()
    pop = demo.generate(members, seed)
    files = demo.write_csv(Path("var") / "demo", pop)
    for kind, path in files.items():
        result = imports.import_file(engine, kind, path, book)
        out.print(f"imported {path}: {result.inserted} {kind}")
    known = knowledge_import.import_file(engine, knowledge_import.SHIPPED)
    out.print(f"knowledge base: {known.inserted} restrictions (the illustrative set, {knowledge_import.SHIPPED.name})")
    crediting.deposit(engine, demo.REGION, RESERVE_FEN, date(demo.YEAR, 1, 1), memo="2023 年末累计结存 (illustrative)")
    authorized = demo.authorize_families(engine, pop)
    out.print(f"{authorized} family mutual-aid authorizations")
    qualified = demo.qualify(engine, book, pop)
    out.print(f"{qualified} chronic disease qualifications (门诊慢特病备案)")
    year_visits = demo.visits(pop, seed)
    with progress_bar() as progress:
        months = progress.add_task(f"crediting {demo.YEAR}-01..12", total=12)
        demo.credit_year(engine, book, advance=lambda n: progress.advance(months, n))
        task = progress.add_task("settling visits", total=len(year_visits))
        year = demo.run_year(engine, book, year_visits, seed, advance=lambda n: progress.advance(task, n))
    out.print(f"{year.settled} visits settled ({year.prescriptions} at pharmacies on a recorded prescription, "
              f"{year.chronic} for a chronic disease), {year.family_paid} paid partly from a relative's account, "
              f"{year.reversed} reversed")
    if year.refused:
        out.print(f"{sum(year.refused.values())} visits refused by the monitoring rules (智能监控): "
                  + ", ".join(f"{rule} {n}" for rule, n in year.refused.most_common()))
    interest = account_use.credit_interest(engine, book, demo.YEAR, demo.REGION)
    out.print(f"interest {demo.YEAR}: {format_yuan(interest.amount)} yuan to {interest.accounts} accounts "
              f"on their balances of {interest.on}")
    table = Table(title=f"outpatient pooling {demo.YEAR}, {demo.REGION} (settlements that stand)")
    for header in ("kind", "member", "settlements", "covered", "pool paid", "share", "family aid"):
        table.add_column(header, justify="left" if header in ("kind", "member") else "right")
    for level, member, count, covered, pool, mulaid in demo.summary(engine):
        table.add_row(level, member, str(count), format_yuan(covered), format_yuan(pool),
                      f"{pool * 100 / covered:.1f}%" if covered else "", format_yuan(mulaid))
    out.print(table)
    _monitor(engine, book)
    report = audit(engine)
    totals = report.totals.get(demo.REGION, {})
    funds = Table(title="money of the year (yuan)")
    funds.add_column("")
    funds.add_column("yuan", justify="right")
    for name in ("deposits_in", "contributions_in", "credits_from_pool", "outpatient_fund_paid",
                 "inpatient_benefit_paid", "chronic_benefit_paid", "pool_balance", "opening_balances",
                 "credits_individual", "account_paid_own", "account_paid_family", "interest_credited",
                 "account_balances"):
        funds.add_row(name, format_yuan(totals.get(name, 0)))
    out.print(funds)
    verdict = "clean, every balance equals its ledger" if report.clean else f"{len(report.differences)} differences"
    out.print(f"audit: {report.checked_accounts} accounts, {report.checked_settlements} settlements: {verdict}")
    out.print(f"done in {time.perf_counter() - started:.0f} s; database {database_url(db)}")
    if not report.clean:
        raise typer.Exit(1)
