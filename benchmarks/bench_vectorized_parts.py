"""Where the vectorized engine's time goes on the heaviest policy (the test region 990100: top-up deductible,
retiree age bands, a cost band, cost above the cap to the inpatient benefit): the same population settled with
one feature at a time taken out of the policy. py-spy and pyinstrument see only Python frames, and the work
here runs inside Polars' threads, so the policy is varied instead.

    .venv/bin/python benchmarks/bench_vectorized_parts.py [--members 1000000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml
from bench_engine import population

from gongji.engine.terms import compile_terms
from gongji.engine.vectorized import adjudicate_frame
from gongji.policy.schema import Version


def variants(raw: dict) -> dict[str, Version]:
    """The version as its file writes it, then with one feature taken out at a time."""
    op = raw["outpatient"]

    def changed(**outpatient) -> Version:
        return Version.model_validate(raw | {"outpatient": op | outpatient})

    return {
        "all features": Version.model_validate(raw),
        "per-visit deductible instead of top-up": changed(deductible=op["deductible"] | {"basis": "per_visit"}),
        "no cost band": changed(cost_bands=[]),
        "no retiree age band": changed(ratios={k: v for k, v in op["ratios"].items() if k != "retired_from_age"}),
        "nothing above the cap (no inpatient routing)": changed(cap=op["cap"] | {"above": "nothing"}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    raw = yaml.safe_load((Path(__file__).parents[1] / "tests" / "policies" / "990100.yaml").read_text("utf-8"))
    frame = population(args.members)
    print(f"{frame.height:,} visits of {args.members:,} members, test region 990100")
    for label, version in variants(raw["versions"][0]).items():
        terms = compile_terms(version)
        best = min(_timed(terms, frame) for _ in range(args.repeats))
        print(f"  {label}: best {best:.2f} s = {frame.height / best / 1e6:.2f} M visits/s")


def _timed(terms, frame) -> float:
    started = time.perf_counter()
    adjudicate_frame(terms, frame)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
