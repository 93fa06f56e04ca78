"""Speed of the monitoring batch (事后): claim lines through every rule at once (gongji.monitor.batch.run).

Target (issue 8): 10 million claim lines through every rule in under 60 s on this 2-core machine.

    .venv/bin/python benchmarks/bench_monitor.py [--lines 10000000] [--base 50000] [--seed 0] [--no-parts]

Data (not timed): gongji.monitor.synth generates a labelled year of --base background claims with its planted
violations and patterns, and the year is tiled up to --lines lines: copy i has its own claim keys, members,
institutions and traceability codes (suffix "-i"), so every copy keeps the year's members, histories and windows,
and the rules find exactly copies x what they find in one year (checked). Timed: building the frames (lines joined
to their claims, as gongji.services.monitoring does) and batch.run over every rule; then, unless --no-parts, each
rule's batch function alone on the same frames, slowest first. Memory: the peak resident size of the process (data
generation included) and the frames' estimated size.
"""

from __future__ import annotations

import argparse
import math
import resource
import time

import polars as pl

from gongji.monitor import batch, synth


def tiled(labelled: synth.Labelled, copies: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(claims, lines) of `copies` copies of the labelled year, each with its own keys, members, institutions and
    traceability codes."""
    def suffix(column: str) -> pl.Expr:
        return pl.when(pl.col(column).is_not_null()).then(
            pl.concat_str(pl.col(column), pl.lit("-"), pl.col("_copy").cast(pl.String))).otherwise(None)

    index = pl.DataFrame({"_copy": list(range(copies))}, schema={"_copy": pl.Int64})
    claims = labelled.claims.join(index, how="cross").with_columns(
        suffix("key"), suffix("psn_no"), suffix("payer_psn_no"), suffix("fixmedins_code"),
        seq=pl.col("seq") * copies + pl.col("_copy")).drop("_copy")
    lines = labelled.lines.join(index, how="cross").with_columns(suffix("key"), suffix("trace_code")).drop("_copy")
    return claims.select(list(batch.CLAIM_COLUMNS)), lines.select(list(batch.LINE_COLUMNS))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000, help="claim lines to check (rounded up to whole "
                        "copies of the base year)")
    parser.add_argument("--base", type=int, default=50_000, help="background claims of the generated year")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-parts", action="store_true", help="skip the per-rule times")
    args = parser.parse_args()

    start = time.perf_counter()
    labelled = synth.generate(args.base, args.seed, check=False)
    base_found = batch.run(labelled.frames()).height
    copies = max(1, math.ceil(args.lines / labelled.lines.height))
    claims, lines = tiled(labelled, copies)
    knowledge = batch.knowledge_frame(labelled.context.knowledge)
    print(f"data: {copies} copies of a year of {labelled.claims.height} claims / {labelled.lines.height} lines: "
          f"{claims.height:,} claims, {lines.height:,} lines, {claims['psn_no'].n_unique():,} members "
          f"(generated in {time.perf_counter() - start:.1f} s, not timed)")

    start = time.perf_counter()
    frames = batch.Frames(claims, lines, knowledge, labelled.context)
    built = time.perf_counter() - start
    start = time.perf_counter()
    found = batch.run(frames)
    ran = time.perf_counter() - start
    print(f"frames (lines joined to claims): {built:.2f} s; every rule ({len(batch.BATCH)}): {ran:.2f} s; "
          f"together {built + ran:.2f} s for {lines.height:,} lines "
          f"({lines.height / (built + ran) / 1e6:.2f} M lines/s)")
    print(f"findings: {found.height:,} (one year: {base_found:,} x {copies} copies = {base_found * copies:,})"
          + ("" if found.height == base_found * copies else "  MISMATCH"))
    print(f"memory: peak resident {peak_mb():,.0f} MB; frames' lines {frames.lines.estimated_size('mb'):,.0f} MB, "
          f"claims {frames.claims.estimated_size('mb'):,.0f} MB")
    if args.no_parts:
        return
    times = []
    for name, rule in batch.BATCH.items():
        start = time.perf_counter()
        rule(frames)
        times.append((time.perf_counter() - start, name))
    total = sum(t for t, _name in times)
    print(f"each rule alone (sum {total:.2f} s):")
    for seconds, name in sorted(times, reverse=True):
        print(f"  {name:<20} {seconds:6.2f} s  {seconds / total:6.1%}")


if __name__ == "__main__":
    main()
