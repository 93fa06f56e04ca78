"""A version's outpatient rules compiled for the engines: every number a visit needs, looked up once per
(member type, age band, level) instead of walked through the policy models at every visit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from gongji.policy.schema import Disease, RatioTable, Version
from gongji.policy.values import LEVELS, MEMBER_TYPES, RETIRED


class LevelTerms(NamedTuple):
    """What applies to one member type and age band at one level, in fen and basis points."""

    deductible: int
    ratios: tuple[int, ...]
    """the ratio in each cost band, from the first."""
    cap: int
    inpatient_ratio: int
    inpatient_cap: int
    inpatient_deductible: int = 0


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


def _ages(tables: list[RatioTable]) -> list[int]:
    return sorted({0, *(age for t in tables for age in t.retired_from_age)}, reverse=True)


def _cut(bp: int, ratio_cut: int) -> int:
    return max(0, bp - ratio_cut)


def compile_terms(version: Version, ratio_cut: int = 0) -> OutpatientTerms:
    """The outpatient terms of `version`; a version without outpatient pooling compiles to `pooled` False.
    `ratio_cut` lowers every ratio by that many basis points (care in another region, 异地就医)."""
    op = version.outpatient
    if op is None:
        return OutpatientTerms(version, False, False, False, False, (0,), (0,), {})
    ages = _ages(_tables(version))
    inpatient = version.inpatient if op.cap.above == "inpatient" else None
    table = {}
    for member_type in MEMBER_TYPES:
        for age in ages if member_type == RETIRED else [0]:
            for level in LEVELS:
                table[member_type, age, level] = LevelTerms(
                    deductible=op.deductible.amount(member_type, level),
                    ratios=tuple(_cut(t.ratio(member_type, age, level), ratio_cut) for _edge, t in op.segments()),
                    cap=op.cap.amount(member_type),
                    inpatient_ratio=_cut(inpatient.ratios.ratio(member_type, age, level), ratio_cut)
                    if inpatient else 0,
                    inpatient_cap=inpatient.cap.amount(member_type) if inpatient else 0,
                    inpatient_deductible=inpatient.deductible.amount(member_type) if inpatient else 0,
                )
    return OutpatientTerms(
        version=version, pooled=True, accumulates=op.deductible.accumulates, pharmacy_pooled=op.pharmacy.pooled,
        to_inpatient=inpatient is not None, edges=tuple(edge for edge, _t in op.segments()),
        retired_ages=tuple(ages), table=table)


_compiled: dict[tuple[int, int, str], tuple[Version, OutpatientTerms]] = {}


def terms_for(version: Version, ratio_cut: int = 0, disease: Disease | None = None) -> OutpatientTerms:
    """`compile_terms` (or `compile_disease`), once per process for each version, cut and disease (the version is
    kept so that its id stays its own)."""
    key = (id(version), ratio_cut, disease.code if disease else "")
    found = _compiled.get(key)
    if found is None:
        terms = compile_disease(version, disease, ratio_cut) if disease else compile_terms(version, ratio_cut)
        found = _compiled[key] = (version, terms)
    return found[1]


def compile_disease(version: Version, disease: Disease, ratio_cut: int = 0) -> OutpatientTerms:
    """A chronic or special disease's benefit (门诊慢特病) as terms `adjudicate` settles like ordinary pooling's:
    an annual deductible, one ratio per level and member type, the disease's annual limit as the cap."""
    ages = _ages([disease.ratios])
    table = {}
    for member_type in MEMBER_TYPES:
        for age in ages if member_type == RETIRED else [0]:
            for level in LEVELS:
                table[member_type, age, level] = LevelTerms(
                    deductible=disease.deductible.amount(member_type),
                    ratios=(_cut(disease.ratios.ratio(member_type, age, level), ratio_cut),),
                    cap=disease.limit.amount(member_type), inpatient_ratio=0, inpatient_cap=0)
    pharmacy = version.outpatient is not None and version.outpatient.pharmacy.pooled
    return OutpatientTerms(version=version, pooled=True, accumulates=True, pharmacy_pooled=pharmacy,
                           to_inpatient=False, edges=(0,), retired_ages=tuple(ages), table=table)

