"""Clearing (清算) of cross-region care (异地就医) for a month: what each pooling region owes another.

A member insured in region A and treated in region B is settled under A's policy, but B's institutions are paid
by B (B's agency advances the money), so A owes B what B advanced for A's members: the pooled fund's payments
(hifp_pay + inpatient_pay + chronic_pay) and the personal-account payments. Cash the member paid at the counter
is not cleared. Regions are pooling regions (cities: a county is its city), as in
`registrations.pooling_region`.

A month is the settlements whose setl_date lies in it. A reversal carries the date of the settlement it undoes and
its amounts negated, so a reversed settlement nets to nothing in its own month.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, func, select

from gongji.errors import InputError
from gongji.money import format_yuan
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services.registrations import is_cross_region, pooling_region
from gongji.store.tables import institutions, settlements

MONTH = re.compile(r"^\d{4}-\d{2}$")


def parse_month(text: str, field: str = "month") -> tuple[date, date]:
    """'2026-11' -> (2026-11-01, 2026-11-30); anything else is an InputError naming `field` and the value."""
    try:
        if not MONTH.match(text):
            raise ValueError
        first = date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise InputError(f"{field}: {text!r} is not a month like 2026-11", f"{field} {text!r} 不是 YYYY-MM 格式的月份"
                         ) from None
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


@dataclass(frozen=True)
class Flow:
    """Cross-region settlements of one month from members of `insured` at institutions of `treating`; fen."""

    insured: str
    treating: str
    settlements: int
    """settlements made (reversals not counted here)."""
    reversals: int
    """reversals among them: their rows' negated amounts are in the sums."""
    medfee_sumamt: int
    fund_pay: int
    """hifp_pay + inpatient_pay + chronic_pay: what the insured region's pooled fund paid."""
    acct_pay: int
    cash_pay: int

    @property
    def owed(self) -> int:
        """what the insured region owes the treating region: the fund and account payments it advanced."""
        return self.fund_pay + self.acct_pay


@dataclass(frozen=True)
class Net:
    """Two regions' debts to each other set off: `payer` pays `payee` `amount` (payer None: they are even)."""

    region_a: str
    region_b: str
    a_owes_b: int
    b_owes_a: int

    @property
    def amount(self) -> int:
        return abs(self.a_owes_b - self.b_owes_a)

    @property
    def payer(self) -> str | None:
        return None if self.a_owes_b == self.b_owes_a else self.region_a if self.a_owes_b > self.b_owes_a \
            else self.region_b

    @property
    def payee(self) -> str | None:
        return None if self.payer is None else self.region_b if self.payer == self.region_a else self.region_a


@dataclass(frozen=True)
class Clearing:
    month: str
    """YYYY-MM."""
    flows: list[Flow]
    """by insured region, then treating region."""
    nets: list[Net]
    """one per pair of regions with a flow either way, region_a < region_b."""
    names: dict[str, str]
    """region code -> name from the policy book (the name of the file that serves it); unknown codes are absent."""


_FUND = settlements.c.hifp_pay + settlements.c.inpatient_pay + settlements.c.chronic_pay
_WHERE = func.coalesce(settlements.c.mdtrtarea_admvs, institutions.c.admdvs)
"""the treating region: recorded on every settlement since issue 6, else the institution's."""


def clear_month(engine: Engine, book: PolicyBook, month: str) -> Clearing:
    """The month's cross-region flows per (insured, treating) pooling region and the nets between regions."""
    first, last = parse_month(month)
    query = (select(settlements.c.insuplc_admdvs, _WHERE.label("treating"),
                    func.count().filter(settlements.c.reverses.is_(None)),
                    func.count().filter(settlements.c.reverses.is_not(None)),
                    func.sum(settlements.c.medfee_sumamt), func.sum(_FUND), func.sum(settlements.c.acct_pay),
                    func.sum(settlements.c.psn_cash_pay))
             .select_from(settlements.join(institutions, institutions.c.fixmedins_code
                                           == settlements.c.fixmedins_code))
             .where(settlements.c.setl_date >= first, settlements.c.setl_date <= last,
                    settlements.c.insuplc_admdvs != _WHERE)
             .group_by(settlements.c.insuplc_admdvs, _WHERE))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    sums: dict[tuple[str, str], list[int]] = {}
    for insured, treating, *numbers in rows:
        if not is_cross_region(insured, treating):
            continue  # a county and its city: one pooling region
        key = (pooling_region(insured), pooling_region(treating))
        total = sums.setdefault(key, [0] * len(numbers))
        for i, n in enumerate(numbers):
            total[i] += int(n or 0)
    flows = [Flow(insured, treating, *numbers) for (insured, treating), numbers in sorted(sums.items())]
    return Clearing(month, flows, nets(flows), region_names(book, {c for f in flows for c in (f.insured, f.treating)}))


def nets(flows: list[Flow]) -> list[Net]:
    """For each pair of regions with a flow either way, what each owes the other."""
    owed = {(f.insured, f.treating): f.owed for f in flows}
    pairs = sorted({tuple(sorted(pair)) for pair in owed})
    return [Net(a, b, owed.get((a, b), 0), owed.get((b, a), 0)) for a, b in pairs]


def region_names(book: PolicyBook, codes: set[str]) -> dict[str, str]:
    names = {}
    for code in codes:
        try:
            names[code] = book.region(code).name
        except PolicyNotFound:
            continue
    return names


def in_yuan(result: Clearing) -> dict:
    """The clearing as JSON-ready data, amounts as yuan strings (the admin API and `gongji clearing --json`)."""
    def region(code: str) -> dict:
        return {"admdvs": code, "name": result.names.get(code)}

    return {"month": result.month,
            "flows": [{"insured": region(f.insured), "treating": region(f.treating), "settlements": f.settlements,
                       "reversals": f.reversals, "medfee_sumamt": format_yuan(f.medfee_sumamt),
                       "fund_pay": format_yuan(f.fund_pay), "acct_pay": format_yuan(f.acct_pay),
                       "psn_cash_pay": format_yuan(f.cash_pay), "owed": format_yuan(f.owed)}
                      for f in result.flows],
            "nets": [{"region_a": region(n.region_a), "region_b": region(n.region_b),
                      "a_owes_b": format_yuan(n.a_owes_b), "b_owes_a": format_yuan(n.b_owes_a),
                      "payer": n.payer, "payee": n.payee, "amount": format_yuan(n.amount)}
                     for n in result.nets]}
