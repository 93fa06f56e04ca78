"""The knowledge base (知识库): dated restrictions keyed by catalogue code, in the national form
(code, rule type, limit, unit, effective dates). The rules (`checkers`) are types; what each restricts is data.

A restriction's `rule` names its checker; `limit`, `unit` and `other_code` mean what that checker says
(RULE_TYPES). Diagnosis restrictions are keyed by a diagnosis code prefix instead of a catalogue code. At most one
restriction of a (rule, code) is in force on a day, except for the rules with an other_code (one per other code).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

RULE_TYPES: dict[str, str] = {
    "sex": "limit 1 or 2: the only sex the item is paid for (限性别)",
    "age_range": "limit MIN-MAX: full years the item is paid for (限年龄)",
    "newborn": "limit N: only for members at most N days old (限新生儿)",
    "child": "limit N: only for members under N years (限儿童)",
    "child_forbidden": "limit N: not for members under N years (儿童禁用)",
    "elderly": "limit N: review for members of N years and over (老年人用药安全)",
    "level": "limit N: only at institutions of level N or higher (限医疗机构级别)",
    "med_type": "limit A,B: only under these med_types (限就医方式)",
    "work_injury": "paid only by work-injury insurance (限工伤保险)",
    "maternity": "paid only by maternity insurance (限生育保险)",
    "not_paid": "never paid by the fund (不予支付)",
    "price": "limit YUAN: the highest unit price (超限定单价)",
    "max_days": "limit N: the most supply days on one prescription (限最大开药天数)",
    "max_quantity": "limit N, unit: the most units on one claim (限开药量)",
    "daily_frequency": "limit N: the most times a day (限定频次; 1: no charge twice a day, 重复收费)",
    "period_frequency": "limit N, unit D days: the most times in any D days (周期超频次)",
    "period_amount": "limit YUAN, unit D days: the most paid in any D days (超限定报销总额)",
    "course": "limit N, unit D days: the most units within D days of first use (限支付疗程)",
    "exclusive": "other_code: never billed together with it on one day (重复收费, 项目与耗材重复收费)",
    "second_line": "other_code, unit D days: only after the first-line drug within D days (限二线使用)",
    "indication": "limit P1,P2: only with a diagnosis starting with one of these (限适应症)",
    "diagnosis_sex": "key: a diagnosis code prefix; limit 1 or 2: the only sex it fits (诊断与性别不符)",
    "diagnosis_age": "key: a diagnosis code prefix; limit MIN-MAX: the ages it fits (诊断与年龄不符)",
    "drug_count": "code *, limit N: the most distinct drugs on one claim (药品种类超标)",
}


class Restriction(NamedTuple):
    code: str
    """med_list_codg, or a diagnosis code prefix for diagnosis_* rules."""
    rule: str
    limit: str = ""
    unit: str = ""
    other_code: str = ""
    begndate: date = date(1900, 1, 1)
    enddate: date | None = None
    source: str = ""

    def covers(self, on: date) -> bool:
        return self.begndate <= on and (self.enddate is None or on <= self.enddate)

    def limit_int(self) -> int:
        return int(self.limit)

    def limit_range(self) -> tuple[int, int]:
        low, _sep, high = self.limit.partition("-")
        return int(low or 0), int(high or 150)

    def limit_set(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.limit.split(",") if part.strip())


class Knowledge:
    """Restrictions indexed by rule and code."""

    def __init__(self, restrictions: Iterable[Restriction] = ()):
        self.all = tuple(restrictions)
        self._by: dict[tuple[str, str], list[Restriction]] = defaultdict(list)
        for r in self.all:
            self._by[r.rule, r.code].append(r)

    def find(self, rule: str, code: str, on: date) -> Restriction | None:
        """The restriction of `rule` on `code` in force `on`, if any."""
        for r in self._by.get((rule, code), ()):
            if r.covers(on):
                return r
        return None

    def find_all(self, rule: str, code: str, on: date) -> list[Restriction]:
        """Every restriction of `rule` on `code` in force `on`: several for the rules with an other_code (a code
        may be exclusive with several others)."""
        return [r for r in self._by.get((rule, code), ()) if r.covers(on)]

    def by_prefix(self, rule: str, diagnosis: str, on: date) -> Restriction | None:
        """A diagnosis restriction whose code is a prefix of `diagnosis` (the longest wins)."""
        for end in range(len(diagnosis), 0, -1):
            found = self.find(rule, diagnosis[:end], on)
            if found:
                return found
        return None

    def rules(self) -> frozenset[str]:
        return frozenset(rule for rule, _code in self._by)
