"""Speed of the outpatient engines.

* vectorized: a synthetic population of members, each with a year of visits (about 10.7 per member, retirees
  2.17 times as often as in-service members, SPEC.md §7), settled by `adjudicate_frame`; data generation
  is not timed. Target: >= 5 million visits/s on 2 cores.
* sequential: `adjudicate` visit after visit on one core. Target: >= 100,000 visits/s.

    .venv/bin/python benchmarks/bench_engine.py [--members 1000000] [--sequential-visits 300000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from gongji.engine.outpatient import CLINIC, PHARMACY, Accumulators, adjudicate
from gongji.engine.terms import compile_terms
from gongji.engine.vectorized import adjudicate_frame
from gongji.policy.loader import PolicyBook

REGIONS = (("321000", "Yangzhou: annual deductible"), ("530000", "Yunnan: per-visit deductible, inpatient above cap"),
           ("990100", "test region: top-up, age bands, cost bands, inpatient cap"))
YEAR = 2025


def population(members: int, seed: int = 7) -> pl.DataFrame:
    """One year of visits of `members` members, sorted by member and date."""
    rng = np.random.default_rng(seed)
    retired = rng.random(members) < 0.3
    counts = rng.poisson(np.where(retired, 17.0, 8.0))
    psn = np.repeat(np.arange(members, dtype=np.int64), counts)
    n = psn.size
    day = rng.integers(0, 365, n)
    order = np.lexsort((day, psn))
    psn, day = psn[order], day[order]
    member_retired = np.repeat(retired, counts)[order]
    age = np.where(member_retired, rng.integers(55, 95, members).repeat(counts)[order],
                   rng.integers(18, 60, members).repeat(counts)[order])
    cost = rng.lognormal(mean=np.log(15_000), sigma=1.1, size=n) * np.where(member_retired, 1.15, 1.0)
    epoch_day = (date(YEAR, 1, 1) - date(1970, 1, 1)).days
    return pl.DataFrame({
        "psn": psn,
        "date": pl.Series(day + epoch_day, dtype=pl.Int32).cast(pl.Date),
        "retired": member_retired,
        "age": age.astype(np.int64),
        "level": rng.choice(np.array([1, 2, 3], dtype=np.int64), size=n, p=[0.5, 0.25, 0.25]),
        "pharmacy": rng.random(n) < 0.15,
        "prescribed": rng.random(n) < 0.8,
        "covered": cost.astype(np.int64),
    })


def bench_vectorized(book: PolicyBook, members: int, repeats: int) -> None:
    started = time.perf_counter()
    frame = population(members)
    print(f"vectorized: {members:,} members, {frame.height:,} visits (generated in "
          f"{time.perf_counter() - started:.1f} s, not timed), {pl.thread_pool_size()} Polars threads")
    for region, label in REGIONS:
        terms = compile_terms(book.policy_for(region, date(YEAR, 1, 1)))
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            adjudicate_frame(terms, frame)
            seconds.append(time.perf_counter() - started)
        best, median = min(seconds), statistics.median(seconds)
        print(f"  {region} {label}: best {best:.2f} s = {frame.height / best / 1e6:.2f} M visits/s, "
              f"median {median:.2f} s = {frame.height / median / 1e6:.2f} M visits/s")


def bench_sequential(book: PolicyBook, visits: int) -> None:
    frame = population(max(1, visits // 10), seed=11).head(visits)
    rows = [(psn, retired, age, level, PHARMACY if pharmacy else CLINIC, covered, prescribed)
            for psn, retired, age, level, pharmacy, prescribed, covered in frame.select(
                "psn", "retired", "age", "level", "pharmacy", "prescribed", "covered").iter_rows()]
    print(f"sequential: {len(rows):,} visits, one core")
    for region, label in REGIONS:
        terms = compile_terms(book.policy_for(region, date(YEAR, 1, 1)))
        started = time.perf_counter()
        acc, current = Accumulators(), None
        for psn, retired, age, level, setting, covered, prescribed in rows:
            if psn != current:
                acc, current = Accumulators(), psn
            acc = adjudicate(terms, "retired" if retired else "in_service", age, level, setting, covered, acc,
                             prescribed).accumulators
        elapsed = time.perf_counter() - started
        print(f"  {region} {label}: {elapsed:.2f} s = {len(rows) / elapsed:,.0f} visits/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sequential-visits", type=int, default=300_000)
    parser.add_argument("--only", choices=("vectorized", "sequential"))
    args = parser.parse_args()
    book = PolicyBook.load(Path(__file__).parents[1] / "tests" / "policies")
    if args.only != "sequential":
        bench_vectorized(book, args.members, args.repeats)
    if args.only != "vectorized":
        bench_sequential(book, args.sequential_visits)


if __name__ == "__main__":
    main()
