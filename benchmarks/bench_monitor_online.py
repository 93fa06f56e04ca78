"""What the monitoring checks inside a settlement (事中) add to it.

Target (issue 8): at most 2 ms at p99. A generated Yangzhou population (gongji.demo: families, institutions, a
catalogue, prescriptions, chronic disease visits) on a fresh database with the shipped knowledge base, and its year
of visits settled through the settlement service in date order. The first half-year is not timed: it gives the
members the history a running system has, and the database then gathers its statistics (ANALYZE, what PostgreSQL's
autovacuum does on a live system; on a table that grew from nothing its plans would be those of an empty one).
In the second half every call of the monitor inside a settlement (building the claim, reading the member's history
and what a paying relative's account paid, running every rule) is timed.

    .venv/bin/python benchmarks/bench_monitor_online.py [--members 2000] [--url sqlite:////tmp/bench_online.sqlite]
    .venv/bin/python benchmarks/bench_monitor_online.py --url postgresql://postgres@127.0.0.1:5432/gongji_bench_online
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gongji import demo
from gongji.policy.loader import load_book
from gongji.services import crediting, imports, knowledge_import, monitor_online
from gongji.store.db import open_engine
from gongji.store.migrate import upgrade


def fresh(url: str):
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
    else:
        admin = parsed.set(database="postgres").render_as_string(hide_password=False).replace("+psycopg", "")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{parsed.database}"')
    engine = open_engine(url)
    upgrade(engine)
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--url", default="sqlite:////tmp/bench_online.sqlite")
    args = parser.parse_args()
    engine, book = fresh(args.url), load_book()
    pop = demo.generate(args.members, 2024)
    for kind, path in demo.write_csv(Path("/tmp/bench_online_csv"), pop).items():
        imports.import_file(engine, kind, path, book)
    knowledge_import.import_file(engine, knowledge_import.SHIPPED)
    crediting.deposit(engine, demo.REGION, 50_000_000_00, date(demo.YEAR, 1, 1))
    demo.authorize_families(engine, pop)
    demo.qualify(engine, book, pop)
    year_visits = demo.visits(pop, 2024)
    half = date(demo.YEAR, 7, 1).isoformat()
    demo.run_year(engine, book, [v for v in year_visits if v["date"] < half], 2024)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))

    timings: list[float] = []
    findings = 0
    claim_of, check = monitor_online.claim_of, monitor_online.check

    def timed_claim(*a, **k):
        start = time.perf_counter()
        claim = claim_of(*a, **k)
        timings.append(time.perf_counter() - start)
        return claim

    def timed_check(*a, **k):
        nonlocal findings
        start = time.perf_counter()
        found = check(*a, **k)
        timings[-1] += time.perf_counter() - start
        findings += len(found)
        return found

    monitor_online.claim_of, monitor_online.check = timed_claim, timed_check
    start = time.perf_counter()
    year = demo.run_year(engine, book, [v for v in year_visits if v["date"] >= half], 2025)
    elapsed = time.perf_counter() - start
    ms = sorted(t * 1000 for t in timings)
    p = {q: ms[min(len(ms) - 1, int(q / 100 * len(ms)))] for q in (50, 95, 99)}
    refused = sum(year.refused.values())
    print(f"{make_url(args.url).drivername}: July-December, {year.settled:,} settlements and {refused} refused in "
          f"{elapsed:.1f} s; the monitor in each of the {len(ms):,}: p50 {p[50]:.2f} ms, p95 {p[95]:.2f} ms, "
          f"p99 {p[99]:.2f} ms, mean {statistics.mean(ms):.2f} ms, max {ms[-1]:.1f} ms (target p99 <= 2 ms); "
          f"{findings:,} findings")


if __name__ == "__main__":
    main()
