"""One member's year before and after the reform (改革前后对比): the account credit (个人账户划入), the outpatient
reimbursement of the same visits (门诊统筹报销), what is left to the member, and the net effect in yuan.

It answers the public's first question about the reform, "my account gets less; do I come out ahead?", for
`gongji compare-me` and the member's web page alike. Everything here is pure: a policy book, two versions and a
member's numbers in, amounts in fen out.

Conventions (what a member asking the question would expect):
- Each side is a counterfactual: its version applies to the whole of `year`, every month's credit and every
  visit, whatever the version's own effective dates. The same visits are settled on both sides, in date order
  (visits on the same day in the order given), against one year's accumulators starting from zero.
- Reimbursement is what the pooled fund pays of the covered cost: ordinary pooling's hifp_pay plus, where the
  version sends cost above the outpatient cap to the inpatient benefit, that benefit's payment (inpatient_pay).
  The member's share (out of pocket) is the covered cost less the reimbursement; fees outside the covered
  amount (全自费, 超限价, 先行自付 of fee lines) are the member's on both sides and left out of the comparison.
- A chronic or special disease visit (门诊慢特病) is refused: that benefit is settled apart from ordinary pooling
  and the reform does not change it. Care in another region (异地就医) is settled with each side's own
  `cross_region` rules.
- A transition rule that credits retirees the previous year's total / 12 (PreviousYearMonthly) uses the
  member's actual credits of the year before, the same on both sides: given (`previous_year_credits`), or
  worked out month by month under the version the book has in force then, falling back to `before` where the
  book has none, with the member's pension and base of `year`.
- The net effect is (credit after - credit before) + (reimbursement after - reimbursement before): positive,
  the member comes out ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from gongji.engine.credit import MONTHS_PER_YEAR, CreditedMember, monthly_credit
from gongji.engine.dates import age_on
from gongji.engine.outpatient import Accumulators, adjudicate
from gongji.engine.terms import terms_for
from gongji.errors import InputError
from gongji.money import format_grouped, format_percent, format_yuan
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.policy.schema import OwnPensionPercent, PreviousYearMonthly, Version
from gongji.policy.values import IN_SERVICE, LEVELS, MEMBER_TYPES, RETIRED
from gongji.services.quote import QuoteVisit
from gongji.services.registrations import is_cross_region, pooling_region

MAX_HISTORY_YEARS = 10
"""How far back a chain of previous-year transition rules is followed before giving up."""


class CompareError(InputError):
    """Input the comparison cannot use. `field` is the argument (pension, contribution_base, visits[2].date ...),
    `detail` the rest of the one-line message."""

    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a version applied to the whole year; amounts in fen."""

    version: Version
    monthly_credits: tuple[int, ...]
    """the account credit of each month, January first."""
    hifp_pay: int
    """ordinary outpatient pooling's payment (统筹基金支出)."""
    inpatient_pay: int
    """the inpatient benefit's payment of covered cost above the outpatient cap."""
    covered: int
    """the covered cost of the visits (政策范围内费用), the same on both sides."""

    @property
    def credit(self) -> int:
        """The year's account credit."""
        return sum(self.monthly_credits)

    @property
    def reimbursement(self) -> int:
        return self.hifp_pay + self.inpatient_pay

    @property
    def out_of_pocket(self) -> int:
        """The member's share of the covered cost."""
        return self.covered - self.reimbursement


@dataclass(frozen=True)
class MemberComparison:
    region: str
    member_type: str
    birth_date: date
    year: int
    contribution_base: int | None
    pension: int | None
    visits: int
    """how many visits were settled."""
    before: Side
    after: Side

    @property
    def covered(self) -> int:
        return self.after.covered

    @property
    def credit_change(self) -> int:
        return self.after.credit - self.before.credit

    @property
    def reimbursement_change(self) -> int:
        return self.after.reimbursement - self.before.reimbursement

    @property
    def out_of_pocket_change(self) -> int:
        return self.after.out_of_pocket - self.before.out_of_pocket

    @property
    def net_effect(self) -> int:
        """What the member gains a year (negative: loses): more credit plus more reimbursement."""
        return self.credit_change + self.reimbursement_change


def compare_member(book: PolicyBook, region: str, member_type: str, birth_date: date, contribution_base: int | None,
                   pension: int | None, visits: Sequence[QuoteVisit], before: Version, after: Version, year: int,
                   previous_year_credits: int | None = None) -> MemberComparison:
    """The member's `year` under `before` and under `after` (see the module's conventions).

    `contribution_base` (缴费基数, monthly) is needed for an in-service member, `pension` (monthly basic pension)
    for a retiree whenever a rule credits a percent of it; amounts in fen. A CompareError names the first
    argument that cannot be used.
    """
    try:
        book.region(region)
    except PolicyNotFound as exc:
        raise CompareError("region", str(exc)) from None
    if member_type not in MEMBER_TYPES:
        raise CompareError("member_type", f"{member_type!r} is not one of {', '.join(MEMBER_TYPES)}")
    for name, amount in (("contribution_base", contribution_base), ("pension", pension),
                         ("previous_year_credits", previous_year_credits)):
        if amount is not None and amount < 0:
            raise CompareError(name, f"{format_yuan(amount)} is negative")
    if member_type == IN_SERVICE and contribution_base is None:
        raise CompareError("contribution_base", "an in-service member's credit is a percent of the monthly "
                           "contribution base; give it")
    ordered = _checked_visits(region, birth_date, visits, year)
    member = CreditedMember(member_type, birth_date, contribution_base or 0, pension or 0)
    history = _History(book, region, member, pension is not None, before, previous_year_credits)
    sides = []
    for version in (before, after):
        credits = _credits(version, member, year, history)
        hifp, inpatient, covered = _settle(version, region, member_type, birth_date, ordered)
        sides.append(Side(version, credits, hifp, inpatient, covered))
    return MemberComparison(region, member_type, birth_date, year, contribution_base, pension, len(ordered), *sides)


def _checked_visits(region: str, birth_date: date, visits: Sequence[QuoteVisit], year: int) -> list[QuoteVisit]:
    for i, visit in enumerate(visits):
        if visit.date.year != year:
            raise CompareError(f"visits[{i}].date", f"{visit.date} is not in {year}, the year compared")
        if visit.date < birth_date:
            raise CompareError(f"visits[{i}].date", f"{visit.date} is before the member's birth date {birth_date}")
        if visit.disease is not None:
            raise CompareError(f"visits[{i}].disease", f"{visit.disease!r}: a chronic or special disease visit is "
                               "settled under its own benefit, which the reform does not change; leave it out")
        if visit.registration is not None and not is_cross_region(region, visit.treated_in):
            raise CompareError(f"visits[{i}].registration", f"{visit.treated_in} is in the member's own region "
                               f"{pooling_region(region)}; a registration (异地就医备案) is for care in another region")
    # sorted() is stable: visits of one day keep the order given
    return sorted(visits, key=lambda v: v.date)


def _settle(version: Version, region: str, member_type: str, birth_date: date,
            visits: Sequence[QuoteVisit]) -> tuple[int, int, int]:
    """(hifp_pay, inpatient_pay, covered) of the visits settled in order under `version`, forced for every visit
    (quote() would pick the version in force on each visit's date)."""
    acc = Accumulators()
    hifp = inpatient = covered = 0
    for visit in visits:
        bill = visit.bill()
        covered += bill.inscp_scp_amt
        cut, pooled = 0, True
        if visit.treated_in is not None and is_cross_region(region, visit.treated_in):
            pooled, cut = version.cross_region_terms(visit.registration)
        if not pooled:
            continue
        result = adjudicate(terms_for(version, cut), member_type, age_on(birth_date, visit.date), visit.level,
                            visit.setting, bill.inscp_scp_amt, acc, visit.prescribed)
        acc = result.accumulators
        hifp += result.hifp_pay
        inpatient += result.inpatient_pay
    return hifp, inpatient, covered


class _History:
    """The member's actual account credits of earlier years, for a previous-year transition rule: the version
    the book has in force each month, else `before`."""

    def __init__(self, book: PolicyBook, region: str, member: CreditedMember, pension_known: bool, before: Version,
                 given: int | None):
        self.book, self.region, self.member, self.pension_known = book, region, member, pension_known
        self.before, self.given = before, given
        self.cache: dict[int, int] = {}

    def version_on(self, month: date) -> Version:
        try:
            return self.book.policy_for(self.region, month)
        except PolicyNotFound:
            return self.before

    def total(self, year: int, depth: int = 0) -> int:
        """The member's credits of `year`."""
        if year not in self.cache:
            if depth >= MAX_HISTORY_YEARS:
                raise CompareError("previous_year_credits", f"every year back to {year} credits retirees the year "
                                   "before's total / 12; give the member's credits of the year before")
            self.cache[year] = sum(_credits(self.version_on, self.member, year, self, depth + 1))
        return self.cache[year]

    def previous(self, year: int, depth: int) -> int:
        """The credits of the year before `year`, as a PreviousYearMonthly rule in `year` reads them."""
        if depth == 0 and self.given is not None:
            return self.given
        return self.total(year - 1, depth)


def _credits(version: Version | Callable[[date], Version], member: CreditedMember, year: int, history: _History,
             depth: int = 0) -> tuple[int, ...]:
    """The 12 monthly credits of `year` under one version, or under the version each month `version` gives."""
    credits = []
    previous: int | None = None
    for month in range(1, MONTHS_PER_YEAR + 1):
        first = date(year, month, 1)
        v = version(first) if callable(version) else version
        rule = v.crediting.retired
        if member.member_type == RETIRED and isinstance(rule, OwnPensionPercent) and not history.pension_known:
            raise CompareError("pension", f"{v.title} credits retirees {format_percent(rule.percent)} of their own "
                               "monthly pension; give it")
        m = member
        if member.member_type == RETIRED and isinstance(rule, PreviousYearMonthly):
            if previous is None:
                previous = history.previous(year, depth)
            m = member._replace(previous_year_credits=previous)
        credits.append(monthly_credit(v, m, first).amount)
    return tuple(credits)


def spread_covered(total: int, year: int, level: int = 1) -> list[QuoteVisit]:
    """A year's covered cost (fen) as 12 clinic visits on the 15th of each month at `level`; the fen that do not
    divide by 12 go one each to the first months, so the parts add up to the total (100001 fen: 5 x 8334 then
    7 x 8333). No visits for a total of 0."""
    if total < 0:
        raise CompareError("annual_covered", f"{format_yuan(total)} is negative")
    if level not in LEVELS:
        raise CompareError("level", f"{level!r} is not one of 1, 2, 3")
    if total == 0:
        return []
    part, extra = divmod(total, MONTHS_PER_YEAR)
    return [QuoteVisit(date=date(year, month, 15), level=level, covered=format_yuan(part + (month <= extra)))
            for month in range(1, MONTHS_PER_YEAR + 1)]


def plain_words(c: MemberComparison) -> tuple[str, str]:
    """The comparison in a sentence, (Chinese, English), amounts as positive yuan with the direction in words."""
    credit, paid, net = c.credit_change, c.reimbursement_change, c.net_effect

    def amount(fen: int) -> str:
        return format_grouped(abs(fen))

    zh = [
        f"个人账户每年{'多' if credit > 0 else '少'}划入 {amount(credit)} 元" if credit else "个人账户每年划入不变",
        f"门诊统筹每年{'多' if paid > 0 else '少'}报销 {amount(paid)} 元" if paid else "门诊统筹报销不变",
        f"合计每年{'多' if net > 0 else '少'}得 {amount(net)} 元" if net else "合计每年不多不少",
    ]
    en = [
        f"Your account is credited {amount(credit)} yuan {'more' if credit > 0 else 'less'} a year" if credit
        else "Your account is credited the same",
        f"the pooled fund pays {amount(paid)} yuan {'more' if paid > 0 else 'less'} of your outpatient costs" if paid
        else "the pooled fund pays the same of your outpatient costs",
        f"in all you come out {amount(net)} yuan a year {'ahead' if net > 0 else 'behind'}" if net
        else "in all you come out the same",
    ]
    return "，".join(zh) + "。", "; ".join(en) + "."


def as_dict(c: MemberComparison) -> dict:
    """The comparison as JSON-ready data, amounts as yuan strings ('-780.00')."""

    def side(s: Side) -> dict:
        v = s.version
        return {"policy": v.title, "admdvs": v.admdvs, "effective_from": v.effective_from.isoformat(),
                "pre_reform": v.pre_reform, "account_credit": format_yuan(s.credit),
                "monthly_credits": [format_yuan(m) for m in s.monthly_credits],
                "reimbursement": format_yuan(s.reimbursement), "hifp_pay": format_yuan(s.hifp_pay),
                "inpatient_pay": format_yuan(s.inpatient_pay), "out_of_pocket": format_yuan(s.out_of_pocket)}

    zh, en = plain_words(c)
    return {
        "region": c.region, "year": c.year, "member_type": c.member_type, "birth_date": c.birth_date.isoformat(),
        "contribution_base": None if c.contribution_base is None else format_yuan(c.contribution_base),
        "pension": None if c.pension is None else format_yuan(c.pension),
        "visits": c.visits, "covered": format_yuan(c.covered),
        "before": side(c.before), "after": side(c.after),
        "change": {"account_credit": format_yuan(c.credit_change),
                   "reimbursement": format_yuan(c.reimbursement_change),
                   "out_of_pocket": format_yuan(c.out_of_pocket_change)},
        "net_effect": format_yuan(c.net_effect), "words": {"zh": zh, "en": en},
    }
