"""The region's monitoring thresholds (监管阈值), read from a policy version's `monitoring` block."""

from __future__ import annotations

from gongji.monitor.checkers import Thresholds
from gongji.policy.schema import Version
from gongji.policy.values import IN_SERVICE, RETIRED

DEFAULT = Thresholds()
YEAR_END_MONTHS = 2
"""the last months of a year counted as year-end (冲顶) when a version has no `monitoring` block."""


def thresholds_for(version: Version) -> Thresholds:
    """The thresholds of `version`: its `monitoring` block, and the most supply days of one prescription from
    its pharmacy rules (长处方); Thresholds' defaults for what the version does not say."""
    block = version.monitoring
    outpatient = version.outpatient
    max_days = outpatient.pharmacy.prescriptions.max_supply_days if outpatient else DEFAULT.max_supply_days
    if block is None:
        return Thresholds(max_supply_days=max_days)
    return Thresholds(
        window_days=block.window_days,
        visits={IN_SERVICE: block.visits.in_service, RETIRED: block.visits.retired},
        purchases={IN_SERVICE: block.purchases.in_service, RETIRED: block.purchases.retired},
        family_people=block.family_people,
        family_payments=block.family_payments,
        max_supply_days=max_days,
    )


def year_end_months(version: Version) -> int:
    """How many of the year's last months count as year-end for the anomaly scores."""
    return version.monitoring.year_end_months if version.monitoring else YEAR_END_MONTHS
