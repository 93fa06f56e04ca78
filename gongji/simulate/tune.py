"""`gongji tune`: which deductible, ratio and cap can a budget pay for (科学测算起付标准和最高支付限额)?

Starting from a region's reform version (its crediting and the shape of its outpatient rules), every combination
of a deductible factor and a cap factor is tried: all deductible amounts (both member types, every level) and
both caps are scaled by the factors, to whole yuan, so that retirees keep "一低两高". For each pair the ratios
are then shifted up or down together, by whole percentage points, to the largest shift whose outpatient
reimbursement still fits the budget (it grows with the shift, so a bisection finds it). A combination below
the national floor (50 % at least, retirees no worse than in-service members) is not a candidate.

The budget is a sum of yuan a year, or `transfer`: exactly the money the reform moves out of accounts (credits
before the reform - credits after, 资金平移). Each candidate reports its cost and the share of members who come
out ahead of the before-reform version; the frontier is the candidates no other beats on both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import polars as pl

from gongji.engine.credit import EMPLOYER, INDIVIDUAL, POOL
from gongji.engine.credit_frame import annual_credits, needs_previous_year
from gongji.money import BP_ONE, FEN_PER_YUAN, div_half_up, format_percent, format_yuan
from gongji.policy import floor
from gongji.policy.loader import PolicyBook
from gongji.policy.schema import CostBand, Outpatient, RatioTable, Version
from gongji.policy.values import LEVELS
from gongji.simulate import versions
from gongji.simulate.population import Population, engine_frame
from gongji.simulate.whatif import SimulationError, previous_year_credits, settle_frame

DEDUCTIBLE_FACTORS = (Fraction(1, 2), Fraction(3, 4), Fraction(1), Fraction(5, 4), Fraction(3, 2), Fraction(2))
CAP_FACTORS = (Fraction(1, 2), Fraction(3, 4), Fraction(1), Fraction(3, 2), Fraction(2))
POINT = 100
"""one percentage point in basis points: the step of the ratio shift."""


@dataclass(frozen=True)
class Candidate:
    deductible_factor: Fraction
    cap_factor: Fraction
    shift: int
    """basis points added to every outpatient ratio."""
    version: Version
    cost: int
    """outpatient reimbursement of the year (pool and over-cap inpatient benefit), fen, for the whole population."""
    ahead: int
    """members who come out ahead of the before-reform version."""
    members: int

    @property
    def share_ahead(self) -> Fraction:
        return Fraction(self.ahead, self.members) if self.members else Fraction(0)


@dataclass(frozen=True)
class Tuning:
    budget: int
    transfer: int
    """the money the base version moves out of accounts, fen."""
    candidates: list[Candidate]
    """one per (deductible, cap) pair that fits the budget within the floor, by cost."""
    unaffordable: int
    """pairs that exceed the budget even at the lowest ratios the floor allows."""

    @property
    def frontier(self) -> list[Candidate]:
        """Cheapest first; each puts more members ahead than every cheaper one."""
        best, out = Fraction(-1), []
        for c in sorted(self.candidates, key=lambda c: (c.cost, -c.share_ahead)):
            if c.share_ahead > best:
                out.append(c)
                best = c.share_ahead
        return out


def _whole_yuan(fen: int, factor: Fraction) -> int:
    scaled = Fraction(fen) * factor / FEN_PER_YUAN
    return int(scaled + Fraction(1, 2)) * FEN_PER_YUAN  # half-up, non-negative


def _ratio_table(table: RatioTable, shift: int) -> dict:
    def row(by_level: dict[int, int]) -> dict[int, str]:
        return {level: format_percent(min(BP_ONE, by_level[level] + shift)) for level in LEVELS}

    return {"in_service": row(table.in_service), "retired": row(table.retired),
            "retired_from_age": {age: row(t) for age, t in table.retired_from_age.items()}}


def adjust(version: Version, deductible_factor: Fraction, cap_factor: Fraction, shift: int) -> Version:
    """`version` with its outpatient deductibles and caps scaled (to whole yuan) and every outpatient ratio
    shifted by `shift` basis points (at most 100 %), validated as a policy file would be."""
    op = version.outpatient
    if op is None:
        raise SimulationError(f"{version.title}: has no outpatient pooling to tune")
    deductible = op.deductible
    amounts = {kind: {level: format_yuan(_whole_yuan(getattr(deductible, kind)[level], deductible_factor))
                      for level in LEVELS} for kind in ("in_service", "retired")}
    if deductible.basis == "annual":
        amounts = {kind: by_level[1] for kind, by_level in amounts.items()}
    ratios = _ratio_table(op.ratios, shift) | {"source": op.ratios.source}
    bands = [CostBand.model_validate({"above": format_yuan(band.above), "ratios": _ratio_table(band.ratios, shift),
                                      "source": band.source}) for band in op.cost_bands]
    cap = {"in_service": format_yuan(_whole_yuan(op.cap.in_service, cap_factor)),
           "retired": format_yuan(_whole_yuan(op.cap.retired, cap_factor)), "above": op.cap.above,
           "source": op.cap.source}
    tuned = Outpatient.model_validate({
        "deductible": {"basis": deductible.basis, **amounts, "source": deductible.source}, "ratios": ratios,
        "cost_bands": bands, "cap": cap, "pharmacy": op.pharmacy})
    title = (f"{version.title} · deductible x{deductible_factor}, cap x{cap_factor}, "
             f"ratios {'+' if shift >= 0 else ''}{shift // POINT} points")
    return version.model_copy(update={"outpatient": tuned, "title": title})


def _shift_range(op: Outpatient) -> tuple[int, int]:
    """Whole-point shifts that keep every ratio within the floor's 50 % and 100 %."""
    tables = [op.ratios, *(band.ratios for band in op.cost_bands)]
    values = [bp for t in tables for _path, _type, by_level in t.tables() for bp in by_level.values()]
    low = -((min(values) - floor.MIN_OUTPATIENT_RATIO_BP) // POINT) * POINT
    high = ((BP_ONE - max(values)) // POINT) * POINT
    return low, high


def tune(pop: Population, before: Version, base: Version, book: PolicyBook, budget: int | None,
         deductible_factors: Iterable[Fraction] = DEDUCTIBLE_FACTORS, cap_factors: Iterable[Fraction] = CAP_FACTORS,
         sample: int | None = None, seed: int = 0, advance: Callable[[str], None] = lambda step: None) -> Tuning:
    """Candidates that spend `budget` fen a year (None: the money moved out of accounts) on outpatient
    reimbursement for `pop`. With `sample`, the visits of that many members drawn at random are settled and
    their cost scaled to the whole population; credits and the transfer are always the whole population's."""
    members = pop.members
    if needs_previous_year(before) or needs_previous_year(base):
        members = previous_year_credits(pop, book)
    credit = {}
    for name, version in (("before", before), ("base", base)):
        c = annual_credits(members, pop.year, lambda _m, v=version: v)
        credit[name] = c.select("psn", total=pl.sum_horizontal(INDIVIDUAL, EMPLOYER, POOL))
    transfer = int(credit["before"]["total"].sum()) - int(credit["base"]["total"].sum())
    if budget is None:
        if transfer <= 0:
            raise SimulationError(f"--budget transfer: {base.title} moves no money out of accounts "
                                  f"({format_yuan(transfer)} yuan); give the budget in yuan")
        budget = transfer
    frame = engine_frame(pop)
    scale = Fraction(1)
    if sample is not None and sample < members.height:
        chosen = members.select("psn").sample(sample, seed=seed)
        frame = frame.filter(pl.col("psn").is_in(chosen["psn"].implode()))
        scale = Fraction(members.height, sample)
        members = members.filter(pl.col("psn").is_in(chosen["psn"].implode()))
    # what each member gains in credits under the reform, and was reimbursed before it
    before_paid = settle_frame(before, frame).select("psn", paid_before=pl.col("hifp_pay") + pl.col("inpatient_pay"))
    gains = members.select("psn").join(credit["base"], on="psn").join(credit["before"], on="psn", suffix="_before") \
        .join(before_paid, on="psn", how="left").with_columns(
            gain=pl.col("total") - pl.col("total_before") - pl.col("paid_before").fill_null(0)).select("psn", "gain")
    advance("credits and the before-reform year")

    def run(version: Version) -> tuple[int, int]:
        paid = settle_frame(version, frame).select("psn", paid=pl.col("hifp_pay") + pl.col("inpatient_pay"))
        joined = gains.join(paid, on="psn", how="left").with_columns(pl.col("paid").fill_null(0))
        cost = int(joined["paid"].sum())
        ahead = int(joined.select((pl.col("gain") + pl.col("paid") > 0).sum()).item())
        return div_half_up(cost * scale.numerator, scale.denominator), ahead

    low, high = _shift_range(base.outpatient)
    candidates, unaffordable = [], 0
    for d in deductible_factors:
        for c in cap_factors:
            found = _largest_within(lambda shift, d=d, c=c: adjust(base, d, c, shift), run, budget, low, high)
            advance(f"deductible x{d}, cap x{c}")
            if found is None:
                unaffordable += 1
                continue
            shift, version, (cost, ahead) = found
            candidates.append(Candidate(d, c, shift, version, cost, ahead, members.height))
    return Tuning(budget, transfer, sorted(candidates, key=lambda c: c.cost), unaffordable)


def versions_for(book: PolicyBook, region: str, on: date | None, before: str | None) -> tuple[Version, Version]:
    """(the reform version to tune: in force `on`, else the region's newest; the version members are compared
    with: `before` as REGION@DATE, else the region's newest pre-reform version)."""
    base = versions.in_force(book, region, on, "--on") if on else versions.newest(book, region)
    if base.outpatient is None:
        raise SimulationError(f"--region {region}: {base.title} has no outpatient pooling to tune; give --on")
    old = versions.version_at("--before", before, book)[0] if before else versions.pre_reform(book, region)
    return base, old


def to_json(result: Tuning) -> dict:
    frontier = {id(c) for c in result.frontier}

    def candidate(c: Candidate) -> dict:
        op = c.version.outpatient
        return {
            "deductible_factor": str(c.deductible_factor), "cap_factor": str(c.cap_factor),
            "ratio_shift": format_percent(abs(c.shift)) if c.shift >= 0 else "-" + format_percent(-c.shift),
            "deductible": {kind: {lv: format_yuan(getattr(op.deductible, kind)[lv]) for lv in LEVELS}
                           for kind in ("in_service", "retired")},
            "ratios": {kind: {lv: format_percent(getattr(op.ratios, kind)[lv]) for lv in LEVELS}
                       for kind in ("in_service", "retired")},
            "cap": {"in_service": format_yuan(op.cap.in_service), "retired": format_yuan(op.cap.retired)},
            "cost": format_yuan(c.cost), "members_ahead": c.ahead, "members": c.members,
            "share_ahead": f"{float(c.share_ahead):.4f}", "frontier": id(c) in frontier,
        }

    return {"budget": format_yuan(result.budget), "transfer": format_yuan(result.transfer),
            "unaffordable": result.unaffordable, "candidates": [candidate(c) for c in result.candidates]}


def _largest_within(make: Callable[[int], Version], run: Callable[[Version], tuple[int, int]], budget: int,
                    low: int, high: int) -> tuple[int, Version, tuple[int, int]] | None:
    """The largest whole-point shift in [low, high] whose version is within the floor and costs at most
    `budget`, with its version and (cost, ahead); None when even `low` costs more or breaks the floor."""
    best = None
    lo, hi = low // POINT, high // POINT
    while lo <= hi:
        mid = (lo + hi) // 2
        version = make(mid * POINT)
        if floor.violations(version):
            hi = mid - 1
            continue
        result = run(version)
        if result[0] <= budget:
            best = (mid * POINT, version, result)
            lo = mid + 1
        else:
            hi = mid - 1
    return best
