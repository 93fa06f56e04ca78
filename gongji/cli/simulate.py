"""`gongji synth`, `gongji simulate`, `gongji tune`: weigh a reform on a whole population before it is adopted."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from gongji.cli.benefits import print_json
from gongji.cli.common import PolicyDir, app, bad_input, book_or_fail, console, fail, step_bar
from gongji.money import format_grouped, format_percent, format_share, yuan_to_fen
from gongji.simulate import population, synth, tune, versions, whatif

Population = Annotated[Path, typer.Argument(help="A population folder (gongji synth or gongji import population).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SIDE_LABELS = {"a": "A", "b": "B"}


def _load(folder: Path) -> population.Population:
    with bad_input():
        return population.load(folder)


@app.command("synth")
def synth_command(
    members: Annotated[int, typer.Option("--members", help="How many members.")],
    region: Annotated[str, typer.Option("--region", help="admdvs of the pooling region.")],
    year: Annotated[int, typer.Option("--year", help="The year of the visits.")],
    out: Annotated[Path, typer.Option("--out", help="A new folder for the population.")],
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same population.")] = 1,
    calibration: Annotated[Path | None, typer.Option("--calibration", help="Assumptions to draw from (default: "
                                                     "gongji/simulate/calibration.yaml).", show_default=False)] = None,
) -> None:
    """Write a synthetic population: members (age, sex, in service or retired, contribution base, pension,
    households) and a year of their outpatient visits, calibrated to SPEC.md §7."""
    with bad_input():
        cal = synth.load_calibration(calibration)
        with step_bar("synth", 3) as advance:
            pop = synth.synthesize(members, region, year, seed, cal, advance)
            population.save(pop, out)
            advance("written")
    print(f"{out}: {pop.members.height:,} members, {pop.visits.height:,} visits in {year} ({region}, seed {seed})")


def settle_with(engine: str, master: str | None, folder: Path) -> whatif.Settle | None:
    if engine == "polars":
        return None
    if engine != "spark":
        fail(f"--engine: {engine!r} is not polars or spark")
    from gongji.simulate import spark

    try:
        return spark.settler(folder, master)
    except spark.SparkMissing as exc:
        fail(f"--engine spark: {exc}")


def run_simulation(folder: Path, a: str, b: str, policy_file: Path | None, policy_dir: Path | None,
                   engine: str = "polars", master: str | None = None, quiet: bool = False) -> whatif.WhatIf:
    book = book_or_fail(policy_dir)
    with bad_input():
        side_a, side_b = whatif.scenario("--a", a, book), whatif.scenario("--b", b, book, policy_file)
    with bad_input():
        pop = population.load(folder, with_visits=engine != "spark")
    with bad_input(), step_bar("simulate", 3, quiet) as advance:
        return whatif.simulate(pop, side_a, side_b, book, settle_with(engine, master, folder), advance)


Engine = Annotated[str, typer.Option("--engine", help="polars (this machine) or spark (a Spark cluster or local "
                                     "mode; needs the spark extra).")]
Master = Annotated[str | None, typer.Option("--spark-master", help="Spark master URL (default: $SPARK_MASTER, "
                                            "else local[*]).", show_default=False)]
SideA = Annotated[str, typer.Option("--a", help="REGION@DATE: the version in force that day, e.g. 321000@2022-06-01.")]
SideB = Annotated[str, typer.Option("--b", help="REGION@DATE, e.g. 321000@2024-06-01.")]
PolicyFile = Annotated[Path | None, typer.Option("--policy-file", help="An edited region file (same format as "
                                                 "gongji/policy/regions) that B is read from.", show_default=False)]


@app.command("simulate")
def simulate_command(
    folder: Population, a: SideA, b: SideB, policy_file: PolicyFile = None, as_json: AsJson = False,
    engine: Engine = "polars", master: Master = None, policy_dir: PolicyDir = None,
) -> None:
    """Run the population's year under two policy versions: fund flows, the 资金平移 check, members ahead and
    behind (deciles), by member type and age band."""
    result = run_simulation(folder, a, b, policy_file, policy_dir, engine, master, quiet=as_json)
    if as_json:
        print_json(whatif.to_json(result))
        return
    print_simulation(result)


def print_simulation(result: whatif.WhatIf) -> None:
    out = console()
    pop = result.population
    out.print(f"{pop.region} {pop.year}: {pop.members.height:,} members, {pop.visit_count:,} visits")
    out.print(f"A {result.a.title}\nB {result.b.title}")
    flows = {side: result.flows(side) for side in whatif.SIDES}
    table = Table(title="fund flows, yuan a year 基金收支")
    for header in ("", "A", "B", "B - A"):
        table.add_column(header, justify="right" if header else "left")
    for name, zh, en in whatif.FLOW_ROWS:
        label = f"{en} {zh}"
        va, vb = getattr(flows["a"], name), getattr(flows["b"], name)
        change = None if va is None or vb is None else vb - va
        table.add_row(label, format_grouped(va), format_grouped(vb), format_grouped(change))
    out.print(table)

    table = Table(title="资金平移: money moved out of accounts vs. outpatient reimbursement added, yuan")
    for header in ("members", "moved out of accounts (A - B)", "reimbursement added (B - A)", "difference"):
        table.add_column(header, justify="right" if header != "members" else "left")
    for label, where in (("all", None), ("in service", ~pl.col("retired")), ("retired", pl.col("retired"))):
        t = result.transfer(where)
        table.add_row(label, format_grouped(t.moved_out_of_accounts), format_grouped(t.reimbursement_added),
                      format_grouped(t.difference))
    out.print(table)

    table = Table(title="by member type and age band (age on 1 July), yuan")
    for header in ("type", "age", "members", "visits", "credits A", "credits B", "reimbursed A", "reimbursed B",
                   "net per member", "ahead", "behind"):
        table.add_column(header, justify="left" if header in ("type", "age") else "right")
    for row in result.groups().iter_rows(named=True):
        n = row["members"]
        table.add_row("retired" if row["retired"] else "in service", row["age_band"], f"{n:,}", f"{row['visits']:,}",
                      *(format_grouped(row[k]) for k in ("credit_a", "credit_b", "reimbursed_a", "reimbursed_b")),
                      format_grouped(whatif.mean_fen(row["net"], n)),
                      format_share(row["ahead"], n), format_share(row["behind"], n))
    out.print(table)

    table = Table(title="net effect per member, B against A: credits + reimbursement, yuan a year")
    for header in ("members", "ahead", "behind", "even", "mean gain", "mean loss", *[f"p{10 * i}" for i in
                                                                                     range(1, 10)]):
        table.add_column(header, justify="left" if header == "members" else "right")
    for label, where in (("all", None), ("in service", ~pl.col("retired")), ("retired", pl.col("retired"))):
        e = result.effects(where)
        n = e["members"]
        table.add_row(f"{label} ({n:,})", *(format_share(e[k], n) for k in ("ahead", "behind", "even")),
                      format_grouped(e["mean_gain"]), format_grouped(e["mean_loss"]),
                      *[format_grouped(v) for v in e["deciles"].values()])
    out.print(table)


def _factors(text: str, option: str) -> tuple[Fraction, ...]:
    try:
        values = tuple(Fraction(part.strip()) for part in text.split(","))
    except (ValueError, ZeroDivisionError):
        fail(f"{option}: {text!r} is not a list of numbers such as 0.5,1,1.5")
    if not values or any(v <= 0 for v in values):
        fail(f"{option}: {text!r}: every factor must be above 0")
    return values


Sample = Annotated[int, typer.Option("--sample", help="Tuning settles the visits of this many members drawn at "
                                     "random, costs scaled to the whole population; 0: every member.")]


@app.command("tune")
def tune_command(
    folder: Population,
    region: Annotated[str, typer.Option("--region", help="admdvs whose rules are tuned.")],
    budget: Annotated[str, typer.Option("--budget", help="Yuan a year for outpatient reimbursement, or `transfer`: "
                                        "the money the reform moves out of accounts.")],
    on: Annotated[str | None, typer.Option("--on", help="YYYY-MM-DD: the reform version to start from (default: "
                                           "the region's newest).", show_default=False)] = None,
    before: Annotated[str | None, typer.Option("--before", help="REGION@DATE members are compared with (default: the "
                                               "region's newest pre-reform version).", show_default=False)] = None,
    deductibles: Annotated[str, typer.Option("--deductible-factors", help="Factors on every deductible.")] =
    "0.5,0.75,1,1.25,1.5,2",
    caps: Annotated[str, typer.Option("--cap-factors", help="Factors on both caps.")] = "0.5,0.75,1,1.5,2",
    sample: Sample = 200_000,
    as_json: AsJson = False, policy_dir: PolicyDir = None,
) -> None:
    """Search deductible, ratio and cap combinations that spend the budget within the national floor, and print
    the frontier: cost against the share of members who come out ahead."""
    book = book_or_fail(policy_dir)
    factors_d, factors_c = _factors(deductibles, "--deductible-factors"), _factors(caps, "--cap-factors")
    if sample < 0:
        fail(f"--sample: {sample} must be 0 or more")
    with bad_input():
        day = versions.parse_date("--on", on) if on else None
        base, old = tune.versions_for(book, region, day, before)
        amount = None if budget == "transfer" else budget_fen(budget)
        pop = _load(folder)
        with step_bar("tune", 1 + len(factors_d) * len(factors_c), as_json) as advance:
            result = tune.tune(pop, old, base, book, amount, factors_d, factors_c, sample or None, advance=advance)
    if as_json:
        print_json(tune.to_json(result))
        return
    out = console()
    out.print(f"base: {base.title}\nbefore: {old.title}")
    out.print(f"budget {format_grouped(result.budget)} yuan a year; the reform moves "
              f"{format_grouped(result.transfer)} yuan out of accounts; {result.unaffordable} combinations cost more "
              "even at the floor's ratios")
    frontier = {id(c) for c in result.frontier}
    table = Table(title="candidates that spend the budget (* on the frontier)")
    for header in ("", "deductible in service / retired", "ratios level 1-3 in service", "retired", "cap",
                   "cost", "of budget", "members ahead"):
        table.add_column(header, justify="right")
    for c in result.candidates:
        op = c.version.outpatient
        table.add_row("*" if id(c) in frontier else "",
                      f"{format_grouped(op.deductible.in_service[1])} / {format_grouped(op.deductible.retired[1])}",
                      " ".join(format_percent(op.ratios.in_service[lv]) for lv in (1, 2, 3)),
                      " ".join(format_percent(op.ratios.retired[lv]) for lv in (1, 2, 3)),
                      f"{format_grouped(op.cap.in_service)} / {format_grouped(op.cap.retired)}", format_grouped(c.cost),
                      format_share(c.cost, result.budget), f"{float(c.share_ahead) * 100:.1f}%")
    out.print(table)


def budget_fen(text: str) -> int:
    try:
        amount = yuan_to_fen(text)
    except ValueError:
        fail(f"--budget: {text!r} is not an amount in yuan or `transfer`")
    if amount <= 0:
        fail(f"--budget: {text!r} must be above 0")
    return amount
