"""Speed of `gongji simulate`: a city-sized population's year under two policies.

Target (issue 7): 1,600,000 members x one year (about 20 million visits) under two policies in under 60 s on
2 cores, data generation excluded. Timed: loading the population folder (Parquet), both policies' credits and
outpatient settlement, and every figure `simulate` prints (flows, the 资金平移 check, groups, effects).

    .venv/bin/python benchmarks/bench_simulate.py [--members 1600000] [--repeat 3] [--folder DIR] [--parts]

The population is generated once into --folder (kept for the next run: generation is not what is measured).
--parts times each step alone (loading, joining, settling and crediting under each version, the figures) to show
where the time goes: the work runs in Polars' own threads, which py-spy and pyinstrument do not see.
Pairs: Yangzhou before/after the reform (no pooling vs annual deductible), and Yangzhou 2024 against Yunnan's
rules (per-visit deductible, cost above the cap to the inpatient benefit), the harder of the two.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from gongji.engine.credit_frame import annual_credits
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


def parts(folder: Path) -> None:
    book = load_book()

    def timed(what: str, work):
        start = time.perf_counter()
        out = work()
        print(f"  {what}: {time.perf_counter() - start:.2f} s")
        return out

    pop = timed("load the folder", lambda: population.load(folder))
    frame = timed("join visits to members", lambda: population.engine_frame(pop))
    for spec in dict.fromkeys(side for pair in PAIRS for side in pair):
        version = whatif.scenario("--a", spec, book).version
        timed(f"settle under {spec}", lambda v=version: whatif.settle_frame(v, frame))
        timed(f"credits under {spec}", lambda v=version: annual_credits(pop.members, pop.year, lambda _m: v))
    a, b = (whatif.scenario(o, s, book) for o, s in zip(("--a", "--b"), PAIRS[0], strict=True))
    result = whatif.simulate(pop, a, b, book)
    timed("the figures", lambda: whatif.to_json(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_600_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--parts", action="store_true", help="time each step alone")
    args = parser.parse_args()
    folder = args.folder or Path(f"/tmp/gongji-bench-population-{args.members}")
    if not (folder / "population.json").exists():
        start = time.perf_counter()
        population.save(synth.synthesize(args.members, "321000", 2024, seed=2024), folder)
        print(f"generated {folder} in {time.perf_counter() - start:.1f} s (not timed below)")
    meta = population.load(folder).meta
    print(f"population: {args.members:,} members, {meta['visits']:,} visits")
    if args.parts:
        parts(folder)
        return
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
