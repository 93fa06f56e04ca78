"""`quote`: a year of one person's visits settled in order, as a member or a bureau would check them.

The request is JSON: a region, a person (member type and birth date) and visits, each with its date, the
institution level and either the policy-covered amount or the fee lines. Each visit is settled against the
accumulators of the visits before it in the same calendar year, in the order given.

A visit may name a chronic or special disease (门诊慢特病, `disease`: a code of the region's list): it is settled
under that disease's benefit, against the disease's own accumulators, apart from ordinary pooling's (a quote
assumes the qualification, 备案). A visit `treated_in` another pooling region is cross-region care (异地就医): the
region's `cross_region` rules lower the ratios by the `registration` reason, or, without one, lower them or pay no
pooled fund at all.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gongji.engine.bill import CLASS_B, BillSplit, LineItem, covered_only, split_bill
from gongji.engine.dates import age_on
from gongji.engine.outpatient import CLINIC, AccountSplit, Accumulators, Adjudication, adjudicate, split_member_share
from gongji.engine.terms import terms_for
from gongji.errors import describe
from gongji.money import format_ratio
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.policy.schema import Disease, Version
from gongji.policy.values import Level, MemberType
from gongji.services.records import ITEM_CLASSES, Admdvs, Quantity, Ratio, UnitPrice, Yuan
from gongji.services.registrations import is_cross_region, pooling_region

ORDINARY = "ordinary"
"""the benefit of a visit without a disease: ordinary outpatient pooling (普通门诊统筹)."""


class QuoteError(ValueError):
    """Input a quote cannot use; the message is one line naming the field and the value."""


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuoteLine(_Input):
    """A fee line: catalogue code, item class (甲/乙/丙), unit price, quantity, optional payment standard
    (医保支付标准, a unit price) and, for class 乙, the first self-pay share (先行自付比例)."""

    model_config = ConfigDict(populate_by_name=True)

    code: str = Field(min_length=1)
    item_class: str = Field(alias="class")
    price: UnitPrice
    quantity: Quantity
    standard: UnitPrice | None = None
    share: Ratio | None = None

    @model_validator(mode="after")
    def _class_known(self) -> QuoteLine:
        if self.item_class not in ITEM_CLASSES:
            raise ValueError(f"class {self.item_class!r} is not one of 甲, 乙, 丙 (A, B, C, 01, 02, 03, unlisted)")
        if ITEM_CLASSES[self.item_class] == CLASS_B and self.share is None:
            raise ValueError("a class 乙 line needs its first self-pay share")
        return self

    def item(self) -> LineItem:
        return LineItem(self.code, ITEM_CLASSES[self.item_class], self.price, self.quantity, self.standard,
                        self.share or 0)


class QuoteVisit(_Input):
    """One visit; at a pharmacy `level` is the prescribing institution's and `prescribed` says whether the drugs
    come on its prescription (外配处方)."""

    date: date
    level: Level
    setting: Literal["clinic", "pharmacy"] = CLINIC
    prescribed: bool = True
    disease: str | None = Field(default=None, min_length=1, max_length=30)
    """a chronic or special disease (opsp_dise_code) of the region's list: the whole visit is settled under it."""
    treated_in: Admdvs | None = None
    """the region of the institution (mdtrtarea_admvs), when it is not the member's own."""
    registration: Literal["resident", "referral", "temporary"] | None = None
    """the member's registration for care there (异地就医备案), by reason; none: unregistered."""
    covered: Yuan | None = None
    lines: list[QuoteLine] | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> QuoteVisit:
        if (self.covered is None) == (self.lines is None):
            raise ValueError("give either covered or lines")
        if self.disease is not None and self.setting != CLINIC:
            raise ValueError(f"disease {self.disease!r}: a chronic or special disease visit (med_type 14) is at a "
                             "medical institution (setting clinic)")
        if self.registration is not None and self.treated_in is None:
            raise ValueError(f"registration {self.registration!r} goes with treated_in, the region of care")
        return self

    @property
    def benefit(self) -> str:
        return self.disease or ORDINARY

    def bill(self) -> BillSplit:
        if self.lines is None:
            return covered_only(self.covered)
        return split_bill(line.item() for line in self.lines)


class QuotePerson(_Input):
    type: MemberType
    birth_date: date


class QuoteRequest(_Input):
    region: str
    person: QuotePerson
    visits: list[QuoteVisit] = Field(min_length=1)
    account_balance: Yuan | None = None
    """the personal account's balance before the first visit; when given, each visit's member share is
    paid from it as far as it goes, the rest in cash."""


class QuotedVisit(NamedTuple):
    visit: QuoteVisit
    bill: BillSplit
    adjudication: Adjudication
    """under ordinary pooling, or under the visit's disease."""
    policy_title: str
    account: AccountSplit | None = None
    balance_after: int | None = None
    ratio_cut: int = 0
    """basis points taken off every ratio for care in another region."""
    note: str | None = None
    """cross-region care: registered or not, and what it changed."""

    @property
    def psn_part_amt(self) -> int:
        """The member's whole share of the visit: the bill less what the pool pays."""
        return self.bill.medfee_sumamt - self.adjudication.hifp_pay - self.adjudication.inpatient_pay


def parse_request(text: str) -> QuoteRequest:
    """A QuoteRequest from JSON text, or a QuoteError naming the first problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QuoteError(f"malformed JSON: {exc}") from None
    try:
        return QuoteRequest.model_validate(data)
    except ValidationError as exc:
        raise QuoteError(describe(exc)[0]) from None


def quote(request: QuoteRequest, book: PolicyBook) -> list[QuotedVisit]:
    """Settle the visits in the order given, each year's accumulators (ordinary and each disease's) starting
    from zero."""
    try:
        book.region(request.region)
    except PolicyNotFound as exc:
        raise QuoteError(f"region: {exc}") from None
    balance = request.account_balance
    years: dict[tuple[int, str], Accumulators] = {}
    """(year, benefit) -> accumulators: ordinary pooling's and each disease's apart."""
    quoted = []
    for i, visit in enumerate(request.visits):
        if visit.date < request.person.birth_date:
            raise QuoteError(f"visits[{i}].date: {visit.date} is before the person's birth date")
        try:
            version = book.policy_for(request.region, visit.date)
        except PolicyNotFound as exc:
            raise QuoteError(f"visits[{i}].date: {exc}") from None
        disease = _disease(version, request.region, visit, i)
        cut, pooled, note = _cross_region(version, request.region, visit, i)
        bill = visit.bill()
        key = (visit.date.year, visit.benefit)
        acc = years.get(key, Accumulators())
        if pooled:
            result = adjudicate(terms_for(version, cut, disease), request.person.type,
                                age_on(request.person.birth_date, visit.date), visit.level, visit.setting,
                                bill.inscp_scp_amt, acc, visit.prescribed)
        else:
            result = Adjudication(bill.inscp_scp_amt, 0, 0, 0, 0, 0, bill.inscp_scp_amt, acc)
        years[key] = result.accumulators
        q = QuotedVisit(visit, bill, result, version.title, ratio_cut=cut, note=note)
        if balance is not None:
            account = split_member_share(q.psn_part_amt, balance)
            balance -= account.acct_pay
            q = q._replace(account=account, balance_after=balance)
        quoted.append(q)
    return quoted


def _disease(version: Version, region: str, visit: QuoteVisit, i: int) -> Disease | None:
    if visit.disease is None:
        return None
    disease = version.disease(visit.disease)
    if disease is None:
        raise QuoteError(f"visits[{i}].disease: {visit.disease!r} is not on the chronic and special disease list of "
                         f"{region} on {visit.date}")
    return disease


def _cross_region(version: Version, region: str, visit: QuoteVisit, i: int) -> tuple[int, bool, str | None]:
    """(ratio cut, whether the pooled fund pays at all, a note) for the visit's place of care, as the settlement
    service decides it."""
    if visit.treated_in is None or not is_cross_region(region, visit.treated_in):
        if visit.registration is not None:
            raise QuoteError(f"visits[{i}].registration: {visit.treated_in} is in the member's own region "
                             f"{pooling_region(region)}; a registration (异地就医备案) is for care in another region")
        return 0, True, None
    pooled, cut = version.cross_region_terms(visit.registration)
    where = f"异地就医 in {visit.treated_in}"
    if not pooled:
        return 0, False, f"{where} without a registration (未备案): no pooled fund"
    status = f", registered ({visit.registration})" if visit.registration else " without a registration (未备案)"
    return cut, True, where + status + (f": ratio {format_ratio(cut)} lower" if cut else "")


def amounts(q: QuotedVisit) -> dict[str, int]:
    """The amounts of a quoted visit under the national platform's names (inpatient_pay is gongji's: the
    pool's payment of `over_cap_amt` under the inpatient benefit; chronic_pay the payment under a disease's
    benefit, which hifp_pay, ordinary pooling's, then leaves at 0); with an account balance, also acct_pay,
    psn_cash_pay and balc (the balance after the visit). act_pay_dedc and over_cap_amt are of the visit's
    benefit (a disease's deductible and limit)."""
    a, b = q.adjudication, q.bill
    chronic = q.visit.disease is not None
    result = {
        "medfee_sumamt": b.medfee_sumamt, "fulamt_ownpay_amt": b.fulamt_ownpay_amt,
        "overlmt_selfpay": b.overlmt_selfpay, "preselfpay_amt": b.preselfpay_amt,
        "inscp_scp_amt": b.inscp_scp_amt, "act_pay_dedc": a.act_pay_dedc, "hifp_pay": 0 if chronic else a.hifp_pay,
        "over_cap_amt": a.over_cap_amt, "inpatient_pay": a.inpatient_pay, "chronic_pay": a.hifp_pay if chronic else 0,
        "psn_part_amt": q.psn_part_amt,
    }
    if q.account is not None:
        result |= {"acct_pay": q.account.acct_pay, "psn_cash_pay": q.account.psn_cash_pay, "balc": q.balance_after}
    return result


def totals(quoted: list[QuotedVisit]) -> dict[str, int]:
    """Every amount summed over the visits; balc is the balance after the last visit."""
    summed: dict[str, int] = {}
    for q in quoted:
        for name, value in amounts(q).items():
            summed[name] = value if name == "balc" else summed.get(name, 0) + value
    return summed
