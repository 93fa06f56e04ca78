"""The national floor (国办发〔2021〕14号) that every reform version must respect.

Outpatient pool ratio at least 50 %; retirees get "一低两高" (deductible no higher, ratio and cap no lower than
in-service members at every level); the in-service credit at most 2 % of the base, from the member's own
contribution only; retirees credited by a fixed amount from the pool. Pre-reform versions (`pre_reform: true`)
describe the old model and are exempt, so that before and after can be compared.
"""

from __future__ import annotations

from typing import NamedTuple

from gongji.money import format_percent, format_yuan
from gongji.policy.schema import (
    BaseAndEmployerPercent,
    BasePercent,
    OwnPensionPercent,
    RatioTable,
    Version,
)
from gongji.policy.values import LEVELS

MIN_OUTPATIENT_RATIO_BP = 5_000
MAX_IN_SERVICE_CREDIT_BP = 200


class Violation(NamedTuple):
    path: str
    value: object
    message: str


def _ratio_table(path: str, table: RatioTable) -> list[Violation]:
    found = []
    for row_path, _member_type, by_level in table.tables():
        for level in LEVELS:
            bp = by_level[level]
            if bp < MIN_OUTPATIENT_RATIO_BP:
                found.append(Violation(f"{path}.{row_path}.{level}", format_percent(bp),
                                       "outpatient ratio below the national floor of 50%"))
    for row_path, member_type, by_level in table.tables():
        if member_type != "retired":
            continue
        for level in LEVELS:
            if by_level[level] < table.in_service[level]:
                found.append(Violation(f"{path}.{row_path}.{level}", format_percent(by_level[level]),
                                       f"retiree ratio below the in-service ratio "
                                       f"{format_percent(table.in_service[level])} at level {level}"))
    return found


def violations(version: Version) -> list[Violation]:
    """Every way a reform version falls below the national floor; empty when it does not."""
    if version.pre_reform:
        return []
    found: list[Violation] = []
    op = version.outpatient
    if op is None:
        found.append(Violation("outpatient", None, "a reform version must have ordinary outpatient pooling"))
    else:
        found += _ratio_table("outpatient.ratios", op.ratios)
        for i, band in enumerate(op.cost_bands):
            found += _ratio_table(f"outpatient.cost_bands[{i}].ratios", band.ratios)
        for level in LEVELS:
            retired, in_service = op.deductible.retired[level], op.deductible.in_service[level]
            if retired > in_service:
                found.append(Violation(f"outpatient.deductible.retired.{level}", format_yuan(retired),
                                       f"retiree deductible above the in-service {format_yuan(in_service)}"))
        if op.cap.retired < op.cap.in_service:
            found.append(Violation("outpatient.cap.retired", format_yuan(op.cap.retired),
                                   f"retiree cap below the in-service {format_yuan(op.cap.in_service)}"))
    in_service = version.crediting.in_service
    if isinstance(in_service, BaseAndEmployerPercent):
        found.append(Violation("crediting.in_service.rule", in_service.rule,
                               "after the reform the employer's contribution goes wholly to the pool"))
    elif isinstance(in_service, BasePercent) and in_service.percent > MAX_IN_SERVICE_CREDIT_BP:
        found.append(Violation("crediting.in_service.percent", format_percent(in_service.percent),
                               "in-service credit above 2% of the base"))
    if isinstance(version.crediting.retired, OwnPensionPercent):
        found.append(Violation("crediting.retired.rule", version.crediting.retired.rule,
                               "after the reform retirees are credited a fixed amount, not a share of own pension"))
    return found
