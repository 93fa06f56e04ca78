"""Region policies (统筹地区政策) as loaded: which regions, which versions from when, and a region's rules."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter

from gongji.api.admin.auth import Reader
from gongji.api.admin.common import Book, Out, not_found, problems
from gongji.policy.loader import PolicyNotFound

router = APIRouter(tags=["policies"])


class VersionDates(Out):
    effective_from: date
    effective_to: date | None
    title: str
    pre_reform: bool


class RegionVersions(Out):
    admdvs: str
    name: str
    versions: list[VersionDates]


@router.get("/policies", response_model=list[RegionVersions])
def list_policies(_user: Reader, book: Book) -> list[RegionVersions]:
    """Every region with a policy file and the dates of its versions."""
    return [RegionVersions(admdvs=r.admdvs, name=r.name,
                           versions=[VersionDates(**v.model_dump(include=set(VersionDates.model_fields)))
                                     for v in r.versions])
            for _code, r in sorted(book.regions.items())]


class RegionPolicy(Out):
    admdvs: str
    """the region asked for."""
    served_by: str
    """the region whose file holds its rules: itself, or its city or province (fallback)."""
    name: str
    versions: list[dict[str, Any]]
    """the versions as loaded: amounts in fen, ratios in basis points."""


@router.get("/policies/{admdvs}", response_model=RegionPolicy, responses=problems(404))
def read_policy(admdvs: str, _user: Reader, book: Book) -> RegionPolicy:
    try:
        region = book.region(admdvs)
    except PolicyNotFound as exc:
        raise not_found(f"admdvs: {exc}") from None
    return RegionPolicy(admdvs=admdvs, served_by=region.admdvs, name=region.name,
                        versions=[v.model_dump(mode="json") for v in region.versions])
