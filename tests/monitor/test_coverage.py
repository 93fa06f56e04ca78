"""coverage.yaml against the national rule base: every rule for outpatient or pharmacy settlement (78 of the 2025
edition's 88) exactly once, with a checker of the fixed list, an anomaly feature, or the reason it is not covered;
a file that breaks any of this is refused naming the rule."""

from __future__ import annotations

import json

import pytest

from gongji.monitor import anomaly, rulebook
from gongji.monitor.coverage import (
    ANOMALY_FEATURES,
    CHECKERS,
    COVERAGE_FILE,
    NATIONAL_FILE,
    CoverageError,
    counts,
    load_coverage,
    unused_checkers,
)

FIXED_CHECKERS = {
    # line and claim rules (line_rules.py), as the issue's brief fixes them
    "sex", "age_range", "newborn", "child", "child_forbidden", "elderly", "level", "med_type", "work_injury",
    "maternity", "not_paid", "price", "max_days", "max_quantity", "daily_frequency", "exclusive", "indication",
    "diagnosis_sex", "diagnosis_age", "drug_count",
    # history and fact rules (history_rules.py)
    "period_frequency", "period_amount", "course", "second_line", "frequent_visits", "frequent_purchases",
    "overlapping_supply", "trace_twice", "during_stay", "institution_status", "family_account",
}
TEXT = COVERAGE_FILE.read_text(encoding="utf-8")


def test_every_rule_in_scope_is_there_once():
    national = json.loads(NATIONAL_FILE.read_text(encoding="utf-8"))["rules"]
    in_scope = sorted(r["seq_2025"] for r in national if r["in_our_scope"])
    assert len(national) == 88 and len(in_scope) == 78  # the 2025 edition; outpatient or pharmacy settlement
    table = load_coverage()
    assert [c.seq for c in table] == in_scope
    assert set(CHECKERS) == FIXED_CHECKERS and len(CHECKERS) == len(FIXED_CHECKERS)
    assert all(name in FIXED_CHECKERS for c in table for name in c.checkers)
    found = counts(table)
    assert found["checker"] + found["anomaly"] + found["not_covered"] == found["all"] == 78
    # checkers of gongji's own (settlement facts the national base does not name)
    assert unused_checkers(table) == ["trace_twice", "during_stay", "institution_status", "family_account"]


def test_some_rules_read_by_hand():
    by_seq = {c.seq: c for c in load_coverage()}
    assert by_seq[9].checkers == ("max_days", "max_quantity")  # 药品限最大开药天数/开药量: both limits
    assert by_seq[50].checkers == ("frequent_visits",) and by_seq[51].checkers == ("frequent_purchases",)
    assert by_seq[87].code is None and by_seq[87].checkers == ("sex",)  # 医用耗材与性别不符, new in 2025
    assert by_seq[73].covered_by == "not_covered" and "pregnancy" in by_seq[73].reason
    assert "进销存" in by_seq[43].reason and "进销存" in by_seq[48].reason
    # indicators: the drug share feeds the anomaly scores; the finer shares cannot be computed
    assert (by_seq[56].kind, by_seq[56].anomaly) == ("indicator", "drug_share")
    assert all(by_seq[seq].covered_by == "not_covered" for seq in (57, 58, 59, 60, 61))


def test_the_anomaly_features_are_the_anomaly_scores():
    assert set(ANOMALY_FEATURES) == set(anomaly.INSTITUTION_FEATURES) | set(anomaly.MEMBER_FEATURES)


def test_a_registered_checker_claims_only_rules_the_table_gives_it():
    """A checker's national code (GZ code, or the 2025 name where there is none) is of a rule coverage.yaml maps
    to that checker; a code no national rule has is gongji's own rule, of a checker beyond the national base."""
    national = json.loads(NATIONAL_FILE.read_text(encoding="utf-8"))["rules"]
    known = {r["code"] for r in national if r["code"]} | {r["name"] for r in national}
    table = load_coverage()
    beyond = unused_checkers(table)
    for name, rule in rulebook.RULES.items():
        assert name in FIXED_CHECKERS, name
        given = {c.code for c in table if name in c.checkers} | {c.name for c in table if name in c.checkers}
        for kind, code in rule.codes.items():
            if code in known:
                assert code in given, (name, kind, code)
            else:
                assert name in beyond, (name, kind, code)


def _broken(tmp_path, old: str, new: str):
    assert old in TEXT, old
    path = tmp_path / "coverage.yaml"
    path.write_text(TEXT.replace(old, new, 1), encoding="utf-8")
    return load_coverage(path)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("6: {name: 药品限新生儿使用, checker: newborn}\n", "", "missing rules (seq_2025): 6"),
    ("6: {name: 药品限新生儿使用, checker: newborn}\n", "6: {name: 药品限新生儿使用, checker: newborn}\n"
     "6: {name: 药品限新生儿使用, checker: child}\n", "line 22: 6 appears twice"),  # rule 6 is on line 21
    ("6: {name: 药品限新生儿使用, checker: newborn}", "6: {name: 药品限新生儿使用, checker: neonate}",
     "rule 6: checker 'neonate' is not one of the checkers"),
    ("6: {name: 药品限新生儿使用, checker: newborn}", "6: {name: 药品限新生儿使用, checker: newborn, owner: x}",
     "rule 6: unknown key 'owner'"),
    ("6: {name: 药品限新生儿使用, checker: newborn}", "6: {name: 药品限儿童使用, checker: newborn}",
     "rule 6: name '药品限儿童使用' is not the national rule's '药品限新生儿使用'"),
    ("6: {name: 药品限新生儿使用, checker: newborn}", "6: {name: 药品限新生儿使用, anomaly: drug_share}",
     "rule 6: is a rule, not an indicator"),
    ("6: {name: 药品限新生儿使用, checker: newborn}", "6: {name: 药品限新生儿使用, checker: newborn, "
     "not_covered: no data for newborns at all in gongji}", "rule 6: needs exactly one of"),
    ("6: {name: 药品限新生儿使用, checker: newborn}", "6: {name: 药品限新生儿使用, not_covered: later}",
     "rule 6: not_covered needs the reason"),
    ("6: {name: 药品限新生儿使用, checker: newborn}", "6: {name: 药品限新生儿使用, checker: [newborn, newborn]}",
     "rule 6: checker names one checker twice"),
    ("56: {name: 药费占比统计, anomaly: drug_share}", "56: {name: 药费占比统计, checker: drug_count}",
     "rule 56: is an indicator"),
    ("56: {name: 药费占比统计, anomaly: drug_share}", "56: {name: 药费占比统计, anomaly: drugs}",
     "rule 56: anomaly 'drugs' is not one of the features"),
    ("1: {name: 药品限工伤保险, checker: work_injury}", "1: {name: 药品限工伤保险, checker: work_injury}\n"
     "38: {name: 手术操作编码异常, not_covered: inpatient procedure codes gongji never receives}",
     "rule 38: not an in-scope rule of national_rules.json"),
])
def test_a_broken_table_is_refused_naming_the_rule(tmp_path, old, new, expected):
    with pytest.raises(CoverageError) as refused:
        _broken(tmp_path, old, new)
    assert str(refused.value).startswith("coverage.yaml: ")
    assert expected in str(refused.value), str(refused.value)
