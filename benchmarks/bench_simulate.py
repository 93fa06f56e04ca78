"""Speed of `gongji simulate`: a city-sized population's year under two policies.

Target (issue 7): 1,600,000 members x one year (about 20 million visits) under two policies in under 60 s on
2 cores, data generation excluded. Timed: loading the population folder (Parquet), both policies' credits and
outpatient settlement, and every figure `simulate` prints (flows, the 资金平移 check, groups, effects).

    .venv/bin/python benchmarks/bench_simulate.py [--members 1600000] [--repeat 3] [--folder DIR]

The population is generated once into --folder (kept for the next run: generation is not what is measured).
Pairs: Yangzhou before/after the reform (no pooling vs annual deductible), and Yangzhou 2024 against Yunnan's
rules (per-visit deductible, cost above the cap to the inpatient benefit), the harder of the two.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from gongji.policy.loader import load_book
from gongji.simulate import population, synth, whatif

PAIRS = (("321000@2022-06-01", "321000@2024-06-01"), ("321000@2024-06-01", "530000@2025-06-01"))


def run(folder: Path, a: str, b: str) -> tuple[float, whatif.WhatIf]:
    book = load_book()
    start = time.perf_counter()
    pop = population.load(folder)
    result = whatif.simulate(pop, whatif.scenario("--a", a, book), whatif.scenario("--b", b, book), book)
    whatif.to_json(result)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_600_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    folder = args.folder or Path(f"/tmp/gongji-bench-population-{args.members}")
    if not (folder / "population.json").exists():
        start = time.perf_counter()
        population.save(synth.synthesize(args.members, "321000", 2024, seed=2024), folder)
        print(f"generated {folder} in {time.perf_counter() - start:.1f} s (not timed below)")
    meta = population.load(folder).meta
    print(f"population: {args.members:,} members, {meta['visits']:,} visits")
    for a, b in PAIRS:
        times = []
        for _ in range(args.repeat):
            seconds, result = run(folder, a, b)
            times.append(seconds)
        t = result.transfer()
        print(f"{a} vs {b}: median {statistics.median(times):.1f} s, best {min(times):.1f} s of {args.repeat} "
              f"(target < 60 s); moved out of accounts {t.moved_out_of_accounts / 100:,.2f}, "
              f"reimbursement added {t.reimbursement_added / 100:,.2f} yuan")


if __name__ == "__main__":
    main()
