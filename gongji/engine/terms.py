"""A version's outpatient rules compiled for the engines: every number a visit needs, looked up once per
(member type, age band, level) instead of walked through the policy models at every visit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from gongji.policy.schema import RatioTable, Version
from gongji.policy.values import LEVELS, MEMBER_TYPES, RETIRED


class LevelTerms(NamedTuple):
    """What applies to one member type and age band at one level, in fen and basis points."""

    deductible: int
    ratios: tuple[int, ...]
    """the ratio in each cost band, from the first."""
    cap: int
    inpatient_ratio: int
    inpatient_cap: int


@dataclass(frozen=True, slots=True)
class OutpatientTerms:
    version: Version
    pooled: bool
    """the version has ordinary outpatient pooling."""
    accumulates: bool
    """the deductible accumulates over the year (annual, with or without top-up) rather than per visit."""
    pharmacy_pooled: bool
    to_inpatient: bool
    """covered cost above the cap goes to the inpatient benefit."""
    edges: tuple[int, ...]
    """where each cost band starts in the year's covered cost, from 0."""
    retired_ages: tuple[int, ...]
    """every age at which some retiree ratio changes, descending, ending with 0."""
    table: dict[tuple[str, int, int], LevelTerms]

    def age_band(self, member_type: str, age: int) -> int:
        if member_type != RETIRED:
            return 0
        for from_age in self.retired_ages:
            if age >= from_age:
                return from_age
        return 0

    def lookup(self, member_type: str, age: int, level: int) -> LevelTerms:
        return self.table[member_type, self.age_band(member_type, age), level]


def _tables(version: Version) -> list[RatioTable]:
    op = version.outpatient
    tables = [op.ratios, *(band.ratios for band in op.cost_bands)]
    if version.inpatient is not None:
        tables.append(version.inpatient.ratios)
    return tables


def compile_terms(version: Version) -> OutpatientTerms:
    """The outpatient terms of `version`; a version without outpatient pooling compiles to `pooled` False."""
    op = version.outpatient
    if op is None:
        return OutpatientTerms(version, False, False, False, False, (0,), (0,), {})
    ages = sorted({0, *(age for t in _tables(version) for age in t.retired_from_age)}, reverse=True)
    inpatient = version.inpatient if op.cap.above == "inpatient" else None
    table = {}
    for member_type in MEMBER_TYPES:
        for age in ages if member_type == RETIRED else [0]:
            for level in LEVELS:
                table[member_type, age, level] = LevelTerms(
                    deductible=op.deductible.amount(member_type, level),
                    ratios=tuple(t.ratio(member_type, age, level) for _edge, t in op.segments()),
                    cap=op.cap.amount(member_type),
                    inpatient_ratio=inpatient.ratios.ratio(member_type, age, level) if inpatient else 0,
                    inpatient_cap=inpatient.cap.amount(member_type) if inpatient else 0,
                )
    return OutpatientTerms(
        version=version, pooled=True, accumulates=op.deductible.accumulates, pharmacy_pooled=op.pharmacy.pooled,
        to_inpatient=inpatient is not None, edges=tuple(edge for edge, _t in op.segments()),
        retired_ages=tuple(ages), table=table)

