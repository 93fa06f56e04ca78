"""`gongji synth`: a synthetic population (合成人群) of employee members and a year of their outpatient visits,
calibrated to the figures the seeds give (SPEC.md §7) and, for the rest, to the assumptions of a calibration file
(calibration.yaml beside this module; each figure names its source).

Households of a member, a spouse and a working child or a retired parent; visits per member negative binomial
(a heavy tail of frequent visitors), retirees 2.17 x as often; covered cost per visit lognormal (heavy-tailed),
retirees 1.15 x dearer; levels mostly 1 and 2; a share at designated pharmacies, most on a prescription.
Generated with numpy from one seed: the same arguments give the same files.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from pydantic import Field, ValidationError, model_validator

from gongji.errors import describe
from gongji.policy.values import LEVELS, Fen, Sourced, Strict
from gongji.simulate.population import Population, PopulationError

CALIBRATION = Path(__file__).with_name("calibration.yaml")


class Households(Sourced):
    sizes: dict[int, float]
    head_retired: float = Field(ge=0, le=1)
    parent_with_working_head: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sizes(self) -> Households:
        if not self.sizes or min(self.sizes) < 1 or abs(sum(self.sizes.values()) - 1) > 1e-9:
            raise ValueError("sizes: shares of household sizes (1 and up) that add up to 1")
        return self


class Ages(Sourced):
    in_service: tuple[int, int]
    retired_from: int = Field(ge=40, le=80)
    retired_mean_years_past: float = Field(gt=0)


class Lognormal(Sourced):
    median: Fen
    sigma: float = Field(ge=0)


class Base(Lognormal):
    floor: Fen
    ceiling: Fen


class Visits(Sourced):
    in_service_per_year: float = Field(gt=0)
    retiree_factor: float = Field(gt=0)
    dispersion: float = Field(gt=0)
    """the negative binomial's shape: smaller is a heavier tail of frequent visitors."""


class Cost(Lognormal):
    retiree_factor: float = Field(gt=0)


class LevelMix(Sourced):
    mix: dict[int, float]

    @model_validator(mode="after")
    def _levels(self) -> LevelMix:
        if set(self.mix) != set(LEVELS) or abs(sum(self.mix.values()) - 1) > 1e-9:
            raise ValueError("mix: a share for each of the levels 1, 2 and 3, adding up to 1")
        return self


class PharmacyMix(Sourced):
    share: float = Field(ge=0, le=1)
    prescribed: float = Field(ge=0, le=1)


class Calibration(Strict):
    """What a synthetic population is drawn from."""

    households: Households
    ages: Ages
    contribution_base: Base
    pension: Lognormal
    visits: Visits
    cost: Cost
    levels: LevelMix
    pharmacy: PharmacyMix


def load_calibration(path: Path | None = None) -> Calibration:
    path = path or CALIBRATION
    try:
        return Calibration.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PopulationError(f"--calibration {path}: cannot be read ({exc})") from None
    except ValidationError as exc:
        raise PopulationError(f"--calibration {path}: {describe(exc)[0]}") from None


def _households(rng: np.random.Generator, members: int, cal: Households) -> tuple[np.ndarray, np.ndarray]:
    """(household number, position in the household) of each member."""
    sizes_known = np.array(sorted(cal.sizes))
    shares = np.array([cal.sizes[s] for s in sizes_known])
    mean = float((sizes_known * shares).sum())
    sizes = rng.choice(sizes_known, size=int(members / mean * 1.1) + 10, p=shares)
    while sizes.sum() < members:
        sizes = np.concatenate([sizes, rng.choice(sizes_known, size=len(sizes) // 10 + 10, p=shares)])
    household = np.repeat(np.arange(1, len(sizes) + 1), sizes)[:members]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = (np.arange(len(household)) - np.repeat(starts, sizes)[:members])
    return household, position


def _members(rng: np.random.Generator, count: int, year: int, cal: Calibration) -> pl.DataFrame:
    household, position = _households(rng, count, cal.households)
    n_households = int(household[-1])
    head_retired = rng.random(n_households) < cal.households.head_retired
    low, high = cal.ages.in_service
    retired_from = cal.ages.retired_from
    head_age = np.where(head_retired,
                        retired_from + rng.gamma(2.0, cal.ages.retired_mean_years_past / 2, n_households),
                        rng.integers(low, high + 1, n_households)).clip(low, 100).astype(np.int64)
    h = household - 1
    their_head_retired, their_head_age = head_retired[h], head_age[h]
    # a working head's third member is a retired parent, or a working child when the head is old enough
    wants_parent = rng.random(count) < cal.households.parent_with_working_head
    child_age = their_head_age - 25 - rng.integers(0, 9, count)
    parent = (position >= 2) & ~their_head_retired & (wants_parent | (child_age < low))
    retired = np.where(position < 2, their_head_retired, parent)
    spouse_age = their_head_age + np.rint(rng.normal(0, 3, count)).astype(np.int64)
    parent_age = their_head_age + 25 + rng.integers(0, 11, count)
    age = np.select([position == 0, position == 1, parent], [their_head_age, spouse_age, parent_age], child_age)
    age = np.where(retired, age.clip(retired_from, 100), age.clip(low, high))
    head_sex = rng.integers(1, 3, n_households)[h]
    sex = np.where(position == 0, head_sex, np.where(position == 1, 3 - head_sex, rng.integers(1, 3, count)))
    relation = np.select([position == 0, position == 1, parent], ["self", "spouse", "parent"], "child")
    # born between 2 January of (year - age - 1) and 1 January of (year - age): `age` full years on 1 January
    birth = ((year - age - 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]")
             + rng.integers(1, 366, count).astype("timedelta64[D]"))
    base_cal, pension_cal = cal.contribution_base, cal.pension
    base = np.exp(rng.normal(np.log(base_cal.median), base_cal.sigma, count)).clip(base_cal.floor, base_cal.ceiling)
    pension = np.exp(rng.normal(np.log(pension_cal.median), pension_cal.sigma, count))
    # whole yuan, as bases and pensions are set
    base_fen = np.where(retired, 0, np.rint(base / 100) * 100).astype(np.int64)
    pension_fen = np.where(retired, np.rint(pension / 100) * 100, 0).astype(np.int64)
    return pl.DataFrame({
        "psn": np.arange(1, count + 1, dtype=np.int64), "sex": sex.astype(str), "birth_date": birth,
        "retired": retired, "contribution_base": base_fen, "pension": pension_fen,
        "prev_year_credit": pl.Series([None] * count, dtype=pl.Int64), "household": household.astype(np.int64),
        "relation": relation,
    }).with_columns(pl.col("birth_date").cast(pl.Date))


def _visits(rng: np.random.Generator, members: pl.DataFrame, year: int, cal: Calibration) -> pl.DataFrame:
    retired = members["retired"].to_numpy()
    mean = cal.visits.in_service_per_year * np.where(retired, cal.visits.retiree_factor, 1.0)
    shape = cal.visits.dispersion
    counts = rng.negative_binomial(shape, shape / (shape + mean))
    total = int(counts.sum())
    psn = np.repeat(members["psn"].to_numpy(), counts)
    dearer = np.repeat(np.where(retired, cal.cost.retiree_factor, 1.0), counts)
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    day = np.datetime64(f"{year}-01-01") + rng.integers(0, days, total).astype("timedelta64[D]")
    levels = np.array(sorted(cal.levels.mix))
    level = rng.choice(levels, size=total, p=[cal.levels.mix[lv] for lv in levels]).astype(np.int8)
    pharmacy = rng.random(total) < cal.pharmacy.share
    prescribed = ~pharmacy | (rng.random(total) < cal.pharmacy.prescribed)
    cost = np.exp(rng.normal(np.log(cal.cost.median), cal.cost.sigma, total)) * dearer
    return pl.DataFrame({"psn": psn, "date": day, "level": level, "pharmacy": pharmacy, "prescribed": prescribed,
                         "covered": np.rint(cost).astype(np.int64)}) \
        .with_columns(pl.col("date").cast(pl.Date)).sort("psn", "date", maintain_order=True)


def synthesize(members: int, region: str, year: int, seed: int, calibration: Calibration | None = None,
               advance: Callable[[str], None] = lambda step: None) -> Population:
    """`members` members of `region` and their visits in `year`, money in fen; `advance` is told of each step."""
    if members < 1:
        raise PopulationError(f"--members: {members} must be at least 1")
    if not (len(region) == 6 and region.isdigit()):
        raise PopulationError(f"--region: {region!r} is not a 6-digit admdvs")
    if not 1900 < year < 2200:
        raise PopulationError(f"--year: {year} is not a year")
    cal = calibration or load_calibration()
    rng = np.random.default_rng(seed)
    people = _members(rng, members, year, cal)
    advance("members")
    visits = _visits(rng, people, year, cal)
    advance("visits")
    return Population(region, year, people, visits,
                      {"source": "synth", "seed": seed, "calibration": cal.model_dump(mode="json")})
