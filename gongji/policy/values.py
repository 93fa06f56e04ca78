"""Field types for policy files: amounts in yuan become fen, ratios become basis points, at load."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from gongji.money import parse_ratio, yuan_to_fen

IN_SERVICE = "in_service"
"""在职职工: an employee who contributes (psn_type 11)."""
RETIRED = "retired"
"""退休人员: a retiree, who does not contribute (psn_type 12)."""
MemberType = Literal["in_service", "retired"]
MEMBER_TYPES: tuple[str, str] = (IN_SERVICE, RETIRED)

LEVELS = (1, 2, 3)
"""Institution level (医院等级 一/二/三级), which selects deductible and ratio."""
Level = Literal[1, 2, 3]


def _fen(value: object) -> int:
    return yuan_to_fen(value)


def _bp(value: object) -> int:
    return parse_ratio(value)


def _all_levels(mapping: dict) -> dict:
    missing = [level for level in LEVELS if level not in mapping]
    if missing:
        raise ValueError(f"needs an entry for every level 1, 2, 3; missing {missing}")
    return mapping


def _same_for_every_level(value: object) -> object:
    if isinstance(value, dict):
        return value
    yuan_to_fen(value)  # a bad amount is reported once, at the field, not once per level
    return {level: value for level in LEVELS}


Fen = Annotated[int, BeforeValidator(_fen), Field(ge=0)]
"""An amount written in yuan ('600.00' or 600), held as integer fen."""
Bp = Annotated[int, BeforeValidator(_bp), Field(ge=0, le=10_000)]
"""A ratio written as '70%' or 0.70, held as basis points (7000)."""
RatioByLevel = Annotated[dict[Level, Bp], AfterValidator(_all_levels)]
FenByLevel = Annotated[dict[Level, Fen], BeforeValidator(_same_for_every_level), AfterValidator(_all_levels)]


class Strict(BaseModel):
    """Policy models refuse unknown keys (a typo must not pass silently) and never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(Strict):
    """A block of numbers and where they come from. `illustrative` marks numbers no source document gives."""

    source: str = Field(min_length=1)
    illustrative: bool = False
