"""The policy files' `monitoring` block (the region's monitoring thresholds) and `thresholds_for`.

The shipped regions write 8 visits and 6 pharmacy purchases in 30 days for in-service members; retirees visit
2.17 x as often (seeds/000_be344b2b160652ed.txt), so theirs are round(8 x 2.17) = round(17.36) = 17 and
round(6 x 2.17) = round(13.02) = 13.
"""

from __future__ import annotations

import re
import textwrap
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from gongji.monitor.checkers import Thresholds
from gongji.monitor.thresholds import thresholds_for, year_end_months
from gongji.policy.loader import PolicyBook, PolicyError, load_region_file

REGION = """\
admdvs: "990300"
name: 测试
versions:
  - effective_from: 2024-01-01
    title: t
    outpatient:
      deductible: {basis: annual, in_service: "600.00", retired: "500.00", source: s}
      ratios: {in_service: {1: 70%, 2: 65%, 3: 60%}, retired: {1: 80%, 2: 75%, 3: 70%}, source: s}
      cap: {in_service: "7000.00", retired: "8000.00", source: s}
      pharmacy: {pooled: true, source: s, prescriptions: {valid_days: 3, max_supply_days: 60, source: s}}
    crediting:
      in_service: {rule: base_percent, percent: 2%, source: s}
      retired: {rule: fixed_by_age, amounts: {0: "100.00"}, source: s}
    monitoring:
      window_days: 14
      visits: {in_service: 5, retired: 11}
      purchases: {in_service: 4, retired: 9}
      family_people: 2
      family_payments: 7
      year_end_months: 3
      source: s
      illustrative: true
"""


def _load(tmp_path, text: str):
    path = tmp_path / "990300.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_region_file(path)


def test_a_region_s_block_becomes_its_thresholds(tmp_path):
    version = _load(tmp_path, REGION).versions[0]
    assert version.monitoring.illustrative
    assert thresholds_for(version) == Thresholds(
        window_days=14, visits={"in_service": 5, "retired": 11}, purchases={"in_service": 4, "retired": 9},
        family_people=2, family_payments=7,
        max_supply_days=60)  # from outpatient.pharmacy.prescriptions, not the block
    assert year_end_months(version) == 3


def test_without_the_block_the_defaults_apply_with_the_version_s_supply_days(tmp_path):
    block = REGION[REGION.index("    monitoring:"):]
    version = _load(tmp_path, REGION.replace(block, "")).versions[0]
    assert version.monitoring is None
    assert thresholds_for(version) == Thresholds(max_supply_days=60)
    assert year_end_months(version) == 2


def test_a_version_without_outpatient_pooling_keeps_84_days():
    # Yangzhou before the reform (2022): no outpatient block, no monitoring block
    version = PolicyBook.load().policy_for("321000", date(2022, 6, 1))
    assert version.outpatient is None and version.monitoring is None
    assert thresholds_for(version).max_supply_days == 84  # 长处方: 12 weeks


def _times_217(count: int) -> int:
    return int((Decimal(count) * Decimal("2.17")).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_the_shipped_regions_set_retirees_at_2_17_times_and_say_so():
    book = PolicyBook.load()
    seed = re.compile(r"seeds/\d{3}_[0-9a-f]{16}\.txt")
    for admdvs, on in (("321000", date(2023, 6, 1)), ("321000", date(2024, 6, 1)), ("530000", date(2025, 1, 1)),
                       ("000000", date(2024, 6, 1))):
        block = book.policy_for(admdvs, on).monitoring
        assert block.illustrative and seed.search(block.source) and "2.17" in block.source
        assert block.visits.retired == _times_217(block.visits.in_service)
        assert block.purchases.retired == _times_217(block.purchases.in_service)
    yangzhou = thresholds_for(book.policy_for("321000", date(2024, 6, 1)))
    assert (yangzhou.visits["retired"], yangzhou.purchases["retired"]) == (17, 13)  # round(17.36), round(13.02)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("window_days: 14", "window_days: 0",
     "versions[0].monitoring.window_days: Input should be greater than or equal to 1 (value: 0)"),
    ("visits: {in_service: 5, retired: 11}", "visits: {in_service: 5}",
     "versions[0].monitoring.visits.retired: missing"),
    ("purchases: {in_service: 4, retired: 9}", "purchases: {in_service: 4, retired: many}",
     "versions[0].monitoring.purchases.retired: Input should be a valid integer"),
    ("year_end_months: 3", "year_end_months: 12",
     "versions[0].monitoring.year_end_months: Input should be less than or equal to 11 (value: 12)"),
    ("family_payments: 7", "family_payments: 7\n      family_cash: 1",
     "versions[0].monitoring.family_cash: unknown key (value: 1)"),
    ("      source: s\n      illustrative: true\n", "", "versions[0].monitoring.source: missing"),
])
def test_a_wrong_block_names_its_path(tmp_path, old, new, expected):
    assert old in REGION
    with pytest.raises(PolicyError) as err:
        _load(tmp_path, REGION.replace(old, new, 1))
    assert expected in str(err.value)
