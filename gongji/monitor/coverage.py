"""Coverage of the national rule base (规则库覆盖): for every rule of national_rules.json that applies to outpatient or
pharmacy settlement, the checker that finds it, the anomaly feature it feeds, or why gongji does not check it yet
(coverage.yaml). `gongji monitor rules` prints the table.

The file is checked whole on load: every in-scope rule exactly once under its seq_2025 with its national name,
one of checker / anomaly / not_covered, checker names from CHECKERS (a rule, not an indicator), anomaly features
from ANOMALY_FEATURES (an indicator), and no other keys.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import yaml

HERE = Path(__file__).parent
COVERAGE_FILE = HERE / "coverage.yaml"
NATIONAL_FILE = HERE / "national_rules.json"

LINE_CHECKERS = ("sex", "age_range", "newborn", "child", "child_forbidden", "elderly", "level", "med_type",
                 "work_injury", "maternity", "not_paid", "price", "max_days", "max_quantity", "daily_frequency",
                 "exclusive", "indication", "diagnosis_sex", "diagnosis_age", "drug_count")
"""the checkers about one line or one claim (line_rules.py)."""
HISTORY_CHECKERS = ("period_frequency", "period_amount", "course", "second_line", "frequent_visits",
                    "frequent_purchases", "overlapping_supply", "trace_twice", "during_stay", "institution_status",
                    "family_account")
"""the checkers that read the member's earlier claims or facts beyond the claim (history_rules.py)."""
CHECKERS = LINE_CHECKERS + HISTORY_CHECKERS
ANOMALY_FEATURES = ("cost_per_visit", "drug_share", "visits_per_member", "fund_per_member", "basket",
                    "year_end_share", "visits", "fund_paid", "pharmacy_share", "institutions")
"""the anomaly scores' features (gongji.monitor.anomaly: institutions' and members')."""

CHECKER, ANOMALY, NOT_COVERED = "checker", "anomaly", "not_covered"
KINDS = (CHECKER, ANOMALY, NOT_COVERED)
KEYS = frozenset({"name", "note", *KINDS})
MIN_REASON = 30
"""characters: a reason says what data gongji lacks, not just "not yet"."""


class CoverageError(ValueError):
    """coverage.yaml does not match the national rule base or the checkers; the message names the rule."""


class Coverage(NamedTuple):
    """One in-scope national rule and how gongji covers it."""

    seq: int
    code: str | None
    """the framework 1.0 code (GZ/ZB); None for the 2025 edition's new rules."""
    name: str
    kind: str
    """rule or indicator."""
    window: str
    realtime: str
    cls: str
    """the national default flag: 明确违规, 可疑 or indicator."""
    covered_by: str
    """checker, anomaly or not_covered."""
    checkers: tuple[str, ...] = ()
    anomaly: str = ""
    reason: str = ""
    note: str = ""

    @property
    def what(self) -> str:
        """what covers it, or why nothing does, in one line."""
        if self.covered_by == CHECKER:
            return ", ".join(self.checkers) + (f": {self.note}" if self.note else "")
        if self.covered_by == ANOMALY:
            return f"anomaly {self.anomaly}" + (f": {self.note}" if self.note else "")
        return f"not covered: {self.reason}"

    def as_dict(self) -> dict:
        return {"seq": self.seq, "code": self.code, "name": self.name, "kind": self.kind, "window": self.window,
                "realtime": self.realtime, "class": self.cls, "covered_by": self.covered_by,
                "checkers": list(self.checkers), "anomaly": self.anomaly or None, "reason": self.reason or None,
                "note": self.note or None}


class _UniqueKeys(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice (PyYAML keeps the last silently)."""


def _mapping(loader: _UniqueKeys, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise CoverageError(f"line {key_node.start_mark.line + 1}: {key!r} appears twice")
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def national_rules(path: Path = NATIONAL_FILE) -> list[dict]:
    """The rules of the national rule base that apply to outpatient or pharmacy settlement, by seq_2025."""
    rules = json.loads(path.read_text(encoding="utf-8"))["rules"]
    return sorted((r for r in rules if r["in_our_scope"]), key=lambda r: r["seq_2025"])


def load_coverage(path: Path = COVERAGE_FILE, rules: Sequence[dict] | None = None) -> list[Coverage]:
    """The coverage table in seq order, checked against `rules` (the in-scope national rules)."""
    rules = national_rules() if rules is None else rules
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys)
    except yaml.YAMLError as exc:
        raise CoverageError(f"{path.name}: not valid YAML: {exc}") from None
    except CoverageError as exc:
        raise CoverageError(f"{path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise CoverageError(f"{path.name}: must map each rule's seq_2025 to its coverage")
    by_seq = {r["seq_2025"]: r for r in rules}
    errors = [f"rule {seq!r}: not an in-scope rule of {NATIONAL_FILE.name}" for seq in data if seq not in by_seq]
    missing = [seq for seq in by_seq if seq not in data]
    if missing:
        errors.append("missing rules (seq_2025): " + ", ".join(map(str, missing)))
    table = []
    for seq, rule in by_seq.items():
        if seq in data:
            try:
                table.append(_entry(rule, data[seq]))
            except CoverageError as exc:
                errors.append(f"rule {seq}: {exc}")
    if errors:
        raise CoverageError(f"{path.name}: " + "; ".join(errors))
    return table


def _entry(rule: dict, entry: object) -> Coverage:
    if not isinstance(entry, dict):
        raise CoverageError(f"must be a mapping with name and one of {', '.join(KINDS)}")
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise CoverageError(f"unknown key {unknown[0]!r}; keys are {', '.join(sorted(KEYS))}")
    if entry.get("name") != rule["name"]:
        raise CoverageError(f"name {entry.get('name')!r} is not the national rule's {rule['name']!r}")
    given = [k for k in KINDS if k in entry]
    if len(given) != 1:
        raise CoverageError(f"needs exactly one of {', '.join(KINDS)}, has {given or 'none'}")
    kind = given[0]
    value = entry[kind]
    note = entry.get("note", "")
    if not isinstance(note, str) or (note and kind == NOT_COVERED):
        raise CoverageError("note is text, beside a checker or an anomaly feature")
    base = {"seq": rule["seq_2025"], "code": rule["code"], "name": rule["name"], "kind": rule["kind"],
            "window": rule["window"], "realtime": rule["realtime"], "cls": rule["default_flag"],
            "covered_by": kind, "note": note}
    if kind == CHECKER:
        names = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else ()
        if not names or any(not isinstance(n, str) for n in names):
            raise CoverageError(f"checker must be a name or a list of names (value: {value!r})")
        wrong = [n for n in names if n not in CHECKERS]
        if wrong:
            raise CoverageError(f"checker {wrong[0]!r} is not one of the checkers ({', '.join(CHECKERS)})")
        if len(set(names)) != len(names):
            raise CoverageError(f"checker names one checker twice (value: {value!r})")
        if rule["kind"] != "rule":
            raise CoverageError(f"is an {rule['kind']}: it feeds an anomaly feature, no checker")
        return Coverage(**base, checkers=names)
    if kind == ANOMALY:
        if value not in ANOMALY_FEATURES:
            raise CoverageError(f"anomaly {value!r} is not one of the features ({', '.join(ANOMALY_FEATURES)})")
        if rule["kind"] != "indicator":
            raise CoverageError("is a rule, not an indicator: a checker covers it, not an anomaly feature")
        return Coverage(**base, anomaly=value)
    if not isinstance(value, str) or len(value.strip()) < MIN_REASON:
        raise CoverageError(f"not_covered needs the reason: what data gongji lacks (value: {value!r})")
    return Coverage(**base, reason=" ".join(value.split()))


def counts(table: Sequence[Coverage]) -> dict[str, int]:
    """How many rules each way: checker, anomaly, not_covered, and all."""
    found = Counter(c.covered_by for c in table)
    return {kind: found[kind] for kind in KINDS} | {"all": len(table)}


def unused_checkers(table: Sequence[Coverage]) -> list[str]:
    """Checkers no national rule of the table maps to (gongji's own rules beyond the national base)."""
    used = {name for c in table for name in c.checkers}
    return [name for name in CHECKERS if name not in used]
