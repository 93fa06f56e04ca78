"""`gongji monitor kb import FILE.csv`: the knowledge base's restrictions (知识库) in the national form, a whole file
or nothing.

Columns: code, rule, limit, unit, other_code, begndate, enddate, source (UTF-8 with or without BOM). Every row is
checked before anything is written: the rule is one of gongji.monitor.knowledge.RULE_TYPES, the limit is what that
rule reads (LIMITS), a rule over a window has its days in `unit`, a pair rule its other_code, the dates are in
order, and no two restrictions of one (rule, code, other_code) overlap in time, in the file or with the stored
ones. A bad row refuses the file: "FILE: line N, field: reason (value: ...)".

A restriction is identified by (rule, code, other_code, begndate): a row equal to the stored one changes nothing
(importing a file again changes nothing), a changed row (a new enddate, limit or source) replaces it.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Engine

from gongji.errors import InputError, describe, short_repr
from gongji.money import MoneyError, format_yuan, yuan_to_fen
from gongji.monitor import kb_store
from gongji.monitor.history_rules import MAX_PERIOD_DAYS
from gongji.monitor.knowledge import RULE_TYPES, Restriction
from gongji.monitor.line_rules import WHOLE_CLAIM
from gongji.services import monitor_online
from gongji.services.imports import MAX_REPORTED, ImportResult, read_csv_rows
from gongji.store.db import transaction
from gongji.store.ledger import now

SHIPPED = Path(__file__).parents[1] / "monitor" / "knowledge.csv"
"""the illustrative set the demo uses (`gongji monitor kb import --shipped`)."""

COLUMNS = {"code": True, "rule": True, "limit": False, "unit": False, "other_code": False, "begndate": True,
           "enddate": False, "source": True}
"""The CSV columns: name -> required."""

NONE, INT, RANGE, SEX, YUAN, CODES, PREFIXES = "none", "int", "range", "sex", "yuan", "codes", "prefixes"
LIMITS: dict[str, tuple[str, int, int]] = {
    "sex": (SEX, 1, 2),
    "age_range": (RANGE, 0, 150),
    "newborn": (INT, 1, 365),
    "child": (INT, 1, 150),
    "child_forbidden": (INT, 1, 150),
    "elderly": (INT, 1, 150),
    "level": (INT, 1, 3),
    "med_type": (CODES, 0, 0),
    "work_injury": (NONE, 0, 0),
    "maternity": (NONE, 0, 0),
    "not_paid": (NONE, 0, 0),
    "price": (YUAN, 0, 0),
    "max_days": (INT, 1, 366),
    "max_quantity": (INT, 1, 1_000_000),
    "daily_frequency": (INT, 1, 1_000),
    "period_frequency": (INT, 1, 100_000),
    "period_amount": (YUAN, 0, 0),
    "course": (INT, 1, 1_000_000),
    "exclusive": (NONE, 0, 0),
    "second_line": (NONE, 0, 0),
    "indication": (PREFIXES, 0, 0),
    "diagnosis_sex": (SEX, 1, 2),
    "diagnosis_age": (RANGE, 0, 150),
    "drug_count": (INT, 1, 1_000),
}
"""What each rule's limit must be, with the bounds of an integer or range: the form RULE_TYPES describes."""
DAYS_UNIT = frozenset({"period_frequency", "period_amount", "course", "second_line"})
"""rules over a window: `unit` is its length in days."""
FREE_UNIT = frozenset({"max_quantity"})
"""rules whose `unit` names the unit counted (支, 盒), optional."""
PAIRED = frozenset({"exclusive", "second_line"})
"""rules about two items: `other_code` is the second."""
DIAGNOSIS_KEYED = frozenset({"diagnosis_sex", "diagnosis_age"})
"""rules keyed by a diagnosis code prefix instead of a catalogue code."""
CLAIM_KEYED = frozenset({"drug_count"})
"""rules about the whole claim, keyed by * (WHOLE_CLAIM)."""

ITEM_CODE = re.compile(r"^[0-9A-Za-z._-]{1,50}$")
DIAGNOSIS_PREFIX = re.compile(r"^[A-Z](\d(\d(\.[0-9A-Za-z]{0,12})?)?)?$")
"""an ICD-10 code or its start: a letter, two digits, a dot and the rest (O, P0, N40, I10.x00, E11.900)."""
MED_TYPE = re.compile(r"^[0-9A-Za-z]{1,6}$")
DAYS = re.compile(r"^(\d{1,4})\s*(d|day|days|天|日)?$")
SEXES = {"1": "1", "2": "2", "男": "1", "女": "2"}


class RestrictionRecord(BaseModel):
    """One row of the national form, checked; `restriction()` is what is stored."""

    model_config = ConfigDict(extra="forbid")

    code: str
    rule: str
    limit: str = ""
    unit: str = ""
    other_code: str = ""
    begndate: date
    enddate: date | None = None
    source: str = Field(min_length=1, max_length=500)

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        if value not in RULE_TYPES:
            raise ValueError("not a rule type of the knowledge base; one of " + ", ".join(RULE_TYPES))
        return value

    @model_validator(mode="after")
    def _form(self) -> RestrictionRecord:
        rule = self.rule
        if rule in DIAGNOSIS_KEYED:
            if not DIAGNOSIS_PREFIX.match(self.code):
                _refuse("code", f"{rule} is keyed by a diagnosis code prefix (ICD-10: O, P0, N40, "
                        "I10.x00)", self.code)
        elif rule in CLAIM_KEYED:
            if self.code != WHOLE_CLAIM:
                _refuse("code", f"{rule} is about the whole claim: its code is {WHOLE_CLAIM}", self.code)
        elif not ITEM_CODE.match(self.code):
            _refuse("code", "must be a catalogue code (med_list_codg: letters, digits, . _ -, at most 50)", self.code)
        self.limit = _limit(rule, self.limit)
        self.unit = _unit(rule, self.unit)
        if rule in PAIRED:
            if not self.other_code:
                _refuse("other_code", f"{rule} needs the other item's code", "")
            if not ITEM_CODE.match(self.other_code):
                _refuse("other_code", "must be a catalogue code (med_list_codg)", self.other_code)
            if self.other_code == self.code:
                _refuse("other_code", f"is the restriction's own code {self.code}", self.other_code)
        elif self.other_code:
            _refuse("other_code", f"{rule} is not about a second item: leave it empty", self.other_code)
        if self.enddate is not None and self.enddate < self.begndate:
            _refuse("enddate", f"is before begndate {self.begndate}", self.enddate.isoformat())
        return self

    def restriction(self) -> Restriction:
        return Restriction(code=self.code, rule=self.rule, limit=self.limit, unit=self.unit,
                           other_code=self.other_code, begndate=self.begndate, enddate=self.enddate,
                           source=self.source)


def _refuse(field: str, reason: str, value: str) -> NoReturn:
    raise ValueError(f"{field}: {reason} (value: {short_repr(value) if value else 'empty'})")


def _limit(rule: str, text: str) -> str:
    """The limit of `rule` checked and written the one way (12 not 012, 30.00 not 30, 18-150 not 18-)."""
    form, low, high = LIMITS.get(rule, (NONE, 0, 0))
    if form == NONE:
        if text:
            _refuse("limit", f"{rule} takes no limit: leave it empty", text)
        return ""
    if not text:
        _refuse("limit", f"{rule} needs a limit: {RULE_TYPES[rule]}", text)
    if form == SEX:
        if text not in SEXES:
            _refuse("limit", "must be 1 (male) or 2 (female)", text)
        return SEXES[text]
    if form == INT:
        if not text.isascii() or not text.isdigit():
            _refuse("limit", f"must be a whole number for {rule}", text)
        if not low <= int(text) <= high:
            _refuse("limit", f"must be from {low} to {high} for {rule}", text)
        return str(int(text))
    if form == RANGE:
        match = re.fullmatch(r"(\d{1,3})?\s*-\s*(\d{1,3})?", text)
        if not match or match.groups() == (None, None):
            _refuse("limit", f"must be ages MIN-MAX for {rule} (e.g. 18-60, or 60- for 60 and over)", text)
        first = int(match.group(1) or low)
        last = int(match.group(2) or high)
        if not low <= first <= last <= high:
            _refuse("limit", f"must be ages MIN-MAX with {low} <= MIN <= MAX <= {high}", text)
        return f"{first}-{last}"
    if form == YUAN:
        try:
            fen = yuan_to_fen(text)
        except MoneyError:
            _refuse("limit", "must be yuan with at most two decimals (e.g. 30.00)", text)
        if fen <= 0:
            _refuse("limit", "must be more than 0.00 yuan", text)
        return format_yuan(fen)
    parts = [p.strip() for p in text.split(",")]
    pattern, what = ((MED_TYPE, "med_type codes (e.g. 11,14)") if form == CODES
                     else (DIAGNOSIS_PREFIX, "diagnosis code prefixes (e.g. E10,E11)"))
    if any(not pattern.match(p) for p in parts):
        _refuse("limit", f"must be a comma-separated list of {what}", text)
    return ",".join(dict.fromkeys(parts))


def _unit(rule: str, text: str) -> str:
    if rule in DAYS_UNIT:
        match = DAYS.match(text)
        if not match:
            _refuse("unit", f"{rule} needs its window in days (e.g. 30)", text)
        days = int(match.group(1))
        if not 1 <= days <= MAX_PERIOD_DAYS:
            _refuse("unit", f"must be from 1 to {MAX_PERIOD_DAYS} days", text)
        return str(days)
    if rule in FREE_UNIT:
        if len(text) > 20:
            _refuse("unit", "must be at most 20 characters", text)
        return text
    if text:
        _refuse("unit", f"{rule} takes no unit: leave it empty", text)
    return ""


def read_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line number, cells) of every data row; empty cells are left out so that defaults apply."""
    return read_csv_rows(data, COLUMNS, "knowledge")


def _summary(errors: list[str]) -> str:
    more = len(errors) - MAX_REPORTED
    return "\n".join(errors[:MAX_REPORTED] + ([f"... and {more} more"] if more > 0 else []))


def _kind(r: Restriction) -> tuple[str, str, str]:
    """What at most one restriction in force on a day may restrict."""
    return r.rule, r.code, r.other_code


def _named(r: Restriction) -> str:
    """"price XM0001 2024-01-01..open", "exclusive XM0019/XM0020 2024-01-01..2024-12-31"."""
    pair = f"/{r.other_code}" if r.other_code else ""
    return f"{r.rule} {r.code}{pair} {r.begndate}..{r.enddate or 'open'}"


def _overlap(a: Restriction, b: Restriction) -> bool:
    return (a.enddate is None or b.begndate <= a.enddate) and (b.enddate is None or a.begndate <= b.enddate)


def validate(rows: list[tuple[int, dict[str, str]]]) -> list[tuple[int, Restriction]]:
    """Every row checked on its own and against the file's other rows; all problems, or the restrictions."""
    checked, errors = [], []
    by_kind: dict[tuple[str, str, str], list[tuple[int, Restriction]]] = {}
    for line, cells in rows:
        try:
            r = RestrictionRecord.model_validate(cells).restriction()
        except ValidationError as exc:
            errors += [f"line {line}, {problem}" for problem in describe(exc)]
            continue
        clash = next(((n, e) for n, e in by_kind.get(_kind(r), ()) if _overlap(e, r)), None)
        if clash:
            errors.append(f"line {line}, begndate: {_named(r)} overlaps line {clash[0]}'s "
                          f"{_named(clash[1]).rsplit(' ', 1)[1]} (value: {r.begndate.isoformat()!r})")
        by_kind.setdefault(_kind(r), []).append((line, r))
        checked.append((line, r))
    if errors:
        raise InputError(_summary(errors))
    return checked


def import_csv(engine: Engine, data: bytes) -> ImportResult:
    """Check every row of `data`, then write them all in one transaction: a row with the (rule, code, other_code,
    begndate) of a stored restriction replaces it; no other stored restriction of its kind may overlap it."""
    records = validate(read_rows(data))
    result = ImportResult("knowledge", rows=len(records))
    with transaction(engine) as conn:
        stored = kb_store.restrictions_of(conn, {_kind(r) for _l, r in records})
        starts = {(*_kind(r), r.begndate) for _l, r in records}
        errors, new, changed = [], [], []
        for line, r in records:
            before = next((s for s in stored.get(_kind(r), ()) if s.begndate == r.begndate), None)
            clash = next((s for s in stored.get(_kind(r), ())
                          if (*_kind(s), s.begndate) not in starts and _overlap(s, r)), None)
            if clash:
                errors.append(f"line {line}, begndate: {_named(r)} overlaps the stored restriction "
                              f"{_named(clash).rsplit(' ', 1)[1]} (value: {r.begndate.isoformat()!r})")
            elif before is None:
                new.append(r)
            elif before != r:
                changed.append(r)
        if errors:
            raise InputError(_summary(errors))
        kb_store.save_restrictions(conn, new, changed, now())
    monitor_online.forget_knowledge()
    result.inserted, result.updated = len(new), len(changed)
    result.unchanged = len(records) - len(new) - len(changed)
    return result


def import_file(engine: Engine, path: Path) -> ImportResult:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return import_csv(engine, data)
    except InputError as exc:
        raise InputError(f"{path.name}: {exc}") from None


def import_shipped(engine: Engine) -> ImportResult:
    """The illustrative set shipped for the demo (gongji/monitor/knowledge.csv)."""
    return import_file(engine, SHIPPED)
