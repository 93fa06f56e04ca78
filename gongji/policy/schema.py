"""The policy of a pooling region (统筹地区) as data: dated versions of outpatient pooling and account crediting.

Amounts are integer fen and ratios basis points once loaded (see `values`). Structural rules (every level
present, bands ascending, names resolvable) are checked here; the national floor in `floor`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from gongji.policy.values import (
    IN_SERVICE,
    RETIRED,
    Bp,
    Fen,
    FenByLevel,
    RatioByLevel,
    Sourced,
    Strict,
)


class RatioTable(Strict):
    """Pool ratios (支付比例) by level and member type; retirees may have age bands (e.g. 70 and over)."""

    in_service: RatioByLevel
    retired: RatioByLevel
    retired_from_age: dict[Annotated[int, Field(ge=0, le=150)], RatioByLevel] = {}

    _retired_bands: tuple = PrivateAttr(default=())

    def model_post_init(self, _context: object) -> None:
        bands = sorted(self.retired_from_age.items(), reverse=True)
        self._retired_bands = tuple(bands) + ((0, self.retired),)

    def ratio(self, member_type: str, age: int, level: int) -> int:
        """The ratio in basis points for a member of this type and age at an institution of this level."""
        if member_type == RETIRED:
            for from_age, by_level in self._retired_bands:
                if age >= from_age:
                    return by_level[level]
        return self.in_service[level]

    def tables(self) -> list[tuple[str, str, dict[int, int]]]:
        """(path, member type, ratios by level) for every row of the table, for validation and vectorizing."""
        rows = [("in_service", IN_SERVICE, self.in_service), ("retired", RETIRED, self.retired)]
        rows += [(f"retired_from_age.{age}", RETIRED, t) for age, t in sorted(self.retired_from_age.items())]
        return rows


class Ratios(RatioTable, Sourced):
    """The outpatient ratio table with its source."""


class MemberAmounts(Strict):
    """One amount for in-service members and one for retirees."""

    in_service: Fen
    retired: Fen

    def amount(self, member_type: str) -> int:
        return self.retired if member_type == RETIRED else self.in_service


class Deductible(Sourced):
    """起付标准: what the member pays before the pool pays anything.

    basis `annual`: one amount per member type, accumulated over the year's visits at every level (Yangzhou).
    basis `annual_topup`: an amount per level, accumulated with top-up (累计补差): a visit at level L owes
      what the year's paid deductible still lacks to L's amount.
    basis `per_visit`: an amount per level owed again at every visit (Yunnan 20/40/60).
    `annual` is `annual_topup` with the same amount at every level; the engine treats both alike.
    """

    basis: Literal["annual", "annual_topup", "per_visit"]
    in_service: FenByLevel
    retired: FenByLevel

    @model_validator(mode="before")
    @classmethod
    def _annual_is_one_amount(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("basis") == "annual":
            for key in ("in_service", "retired"):
                if isinstance(data.get(key), dict):
                    raise ValueError(f"basis annual takes one amount for {key}, not one per level")
        return data

    def amount(self, member_type: str, level: int) -> int:
        return (self.retired if member_type == RETIRED else self.in_service)[level]

    @property
    def accumulates(self) -> bool:
        return self.basis != "per_visit"


class Cap(MemberAmounts, Sourced):
    """最高支付限额: the most the pool pays for outpatient care in a year, and where covered cost above it goes.

    above `nothing`: the member bears it. above `inpatient`: it is reimbursed under the employee inpatient
    benefit (按照职工医保住院待遇报销, Yunnan), whose parameters are the version's `inpatient` block.
    """

    above: Literal["nothing", "inpatient"] = "nothing"


class CostBand(Sourced):
    """Ratios that apply to the part of the year's covered cost above `above` (e.g. lower above 20,000)."""

    above: Fen
    ratios: RatioTable


class Prescriptions(Sourced):
    """外配处方: an electronic prescription is valid for `valid_days` counting the day it was written, is used
    once, and may cover at most `max_supply_days` of any drug (长处方: 12 weeks, 84 days)."""

    valid_days: Annotated[int, Field(ge=1, le=366)]
    max_supply_days: Annotated[int, Field(ge=1, le=366)]


class Pharmacy(Sourced):
    """Designated pharmacies (定点零售药店) in outpatient pooling settle prescribed drugs (外配处方) at the
    prescribing institution's ratio and deductible level (Yangzhou Q14); without a valid prescription, or when
    `pooled` is false, the account or cash pays."""

    pooled: bool
    ratio: Literal["prescriber"] = "prescriber"
    prescriptions: Prescriptions


class Outpatient(Strict):
    """普通门诊统筹: ordinary outpatient pooling."""

    deductible: Deductible
    ratios: Ratios
    cost_bands: list[CostBand] = []
    cap: Cap
    pharmacy: Pharmacy

    @field_validator("cost_bands")
    @classmethod
    def _bands_ascend(cls, bands: list[CostBand]) -> list[CostBand]:
        edges = [band.above for band in bands]
        if any(b <= a for a, b in zip(edges, edges[1:], strict=False)) or (edges and edges[0] <= 0):
            raise ValueError(f"band thresholds must be positive and strictly ascending, got {edges} fen")
        return bands

    def segments(self) -> list[tuple[int, RatioTable]]:
        """(start of the year's covered cost in fen, ratio table) in ascending order, from 0."""
        return [(0, self.ratios)] + [(band.above, band.ratios) for band in self.cost_bands]


class Inpatient(Sourced):
    """The employee inpatient benefit (职工医保住院待遇), as far as outpatient cost above the cap is settled
    under it: `deductible` is owed once a year by that cost before `ratios` apply, up to `cap` a year."""

    deductible: MemberAmounts
    ratios: RatioTable
    cap: MemberAmounts


class Disease(Strict):
    """One chronic or special disease (门诊慢特病) and its benefit: an annual deductible, ratios by level and
    member type, and an annual limit, each apart from ordinary pooling's."""

    code: Annotated[str, Field(pattern=r"^[0-9A-Za-z.]{1,30}$")]
    """the disease list code (opsp_dise_code)."""
    name: str = Field(min_length=1)
    deductible: MemberAmounts
    ratios: RatioTable
    limit: MemberAmounts


class Chronic(Sourced):
    """门诊慢特病: the region's disease list. A member qualified (备案) for a disease settles its costs under it."""

    diseases: list[Disease] = Field(min_length=1)

    @field_validator("diseases")
    @classmethod
    def _codes_unique(cls, diseases: list[Disease]) -> list[Disease]:
        codes = [d.code for d in diseases]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"disease codes must be unique, repeated: {twice}")
        return diseases

    def disease(self, code: str) -> Disease | None:
        return next((d for d in self.diseases if d.code == code), None)


REGISTRATION_REASONS = ("resident", "referral", "temporary")
"""异地就医备案 reasons: 异地长期居住 (living or working there), 转诊转院 (referred), 临时外出 (temporarily away)."""


class Unregistered(Strict):
    pooled: bool
    ratio_cut: Bp = 0


class CrossRegion(Sourced):
    """异地就医: care at an institution of another region, settled under this (the insured region's) policy.
    Each registration reason may lower the ratios by `registered[reason]` percentage points; care without a
    registration is pooled or not, and lowered by `unregistered.ratio_cut`."""

    registered: dict[Literal["resident", "referral", "temporary"], Bp]
    unregistered: Unregistered

    @field_validator("registered")
    @classmethod
    def _every_reason(cls, cuts: dict[str, int]) -> dict[str, int]:
        missing = [r for r in REGISTRATION_REASONS if r not in cuts]
        if missing:
            raise ValueError(f"needs a ratio cut for every reason {list(REGISTRATION_REASONS)}; missing {missing}")
        return cuts


class BasePercent(Sourced):
    """In-service credit: a percent of the member's own monthly contribution base (缴费基数), from the
    member's own contribution."""

    rule: Literal["base_percent"]
    percent: Bp


class BaseAndEmployerPercent(Sourced):
    """Pre-reform in-service credit: own percent plus a share of the employer's contribution, both of the base."""

    rule: Literal["base_and_employer_percent"]
    own_percent: Bp
    employer_percent: Bp


class OwnPensionPercent(Sourced):
    """Pre-reform retiree credit: a percent of the member's own monthly basic pension, from the pool."""

    rule: Literal["own_pension_percent"]
    percent: Bp


class FixedByAge(Sourced):
    """Retiree credit: a fixed monthly amount by age band (`amounts`: from age -> yuan), from the pool.

    The age is the member's full years (周岁) on the first day of the credit month, so the higher amount
    starts the month after the birthday."""

    rule: Literal["fixed_by_age"]
    amounts: dict[Annotated[int, Field(ge=0, le=150)], Fen]

    @field_validator("amounts")
    @classmethod
    def _starts_at_zero(cls, amounts: dict[int, int]) -> dict[int, int]:
        if 0 not in amounts:
            raise ValueError("needs a band from age 0")
        return amounts

    def amount(self, age: int) -> int:
        return self.amounts[max(a for a in self.amounts if a <= age)]


class AveragePensionPercent(Sourced):
    """Retiree credit: a percent of a named region-wide figure (e.g. the reform year's average basic pension)."""

    rule: Literal["average_pension_percent"]
    percent: Bp
    of: str


class PreviousYearMonthly(Sourced):
    """Retiree transition credit: the member's own total credit of the previous year / 12, from the pool."""

    rule: Literal["previous_year_monthly"]


InServiceRule = Annotated[BasePercent | BaseAndEmployerPercent, Field(discriminator="rule")]
RetiredRule = Annotated[
    FixedByAge | AveragePensionPercent | PreviousYearMonthly | OwnPensionPercent, Field(discriminator="rule")
]


class Crediting(Strict):
    """个人账户计入/划入: what goes into each member's account every month."""

    in_service: InServiceRule
    retired: RetiredRule

    def in_service_percents(self) -> tuple[int, int]:
        """(own, employer) percents of the base credited to an in-service member's account."""
        rule = self.in_service
        if isinstance(rule, BaseAndEmployerPercent):
            return rule.own_percent, rule.employer_percent
        return rule.percent, 0


class Contributions(Sourced):
    """缴费: what employer and member pay each month, as percents of the member's contribution base. What is
    not credited to the member's account goes to the pooled fund."""

    employer_percent: Bp
    individual_percent: Bp


MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class AccountInterest(Sourced):
    """个人账户计息: once a year, on `credited_on` (MM-DD), every open account is credited `rate` x its balance
    at the end of that day."""

    credited_on: str
    rate: Bp

    @field_validator("credited_on")
    @classmethod
    def _month_day(cls, text: str) -> str:
        if not MONTH_DAY.match(text):
            raise ValueError("must be MM-DD, e.g. 12-31")
        date(2024, int(text[:2]), int(text[3:]))  # a leap year: 02-29 passes, 02-30 fails
        return text

    def date_in(self, year: int) -> date:
        month, day = int(self.credited_on[:2]), int(self.credited_on[3:])
        if (month, day) == (2, 29) and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
            day = 28
        return date(year, month, day)


class ReferenceValue(Sourced):
    """A region-wide figure a rule refers to by name, e.g. the reform year's average basic pension."""

    amount: Fen
    year: int | None = None


class MemberCounts(Strict):
    """One count for in-service members and one for retirees."""

    in_service: Annotated[int, Field(ge=1)]
    retired: Annotated[int, Field(ge=1)]


class Credit(Sourced):
    """信用记录 points: every institution and member starts at `start`; a confirmed hit of class 明确违规 adds
    `definite` points to the responsible one's record, of class 可疑 `suspicious` (both zero or negative)."""

    start: Annotated[int, Field(ge=0)]
    definite: Annotated[int, Field(le=0)]
    suspicious: Annotated[int, Field(le=0)]


class Monitoring(Sourced):
    """智能监管 thresholds: the numbers of the monitoring rules about frequency (gongji.monitor).

    Within any `window_days`: more than `visits` outpatient visits (频繁门诊) or `purchases` pharmacy purchases
    (频繁购药) by one member, one account paying for more than `family_people` relatives or more than
    `family_payments` times (家庭共济) are suspicious. Retirees visit more often (SPEC §7: 2.17 x), so their counts
    are their own. The last `year_end_months` months of a year count as year-end (冲顶) for the anomaly scores."""

    window_days: Annotated[int, Field(ge=1, le=366)]
    visits: MemberCounts
    purchases: MemberCounts
    family_people: Annotated[int, Field(ge=1)]
    family_payments: Annotated[int, Field(ge=1)]
    year_end_months: Annotated[int, Field(ge=1, le=11)]
    credit: Credit | None = None
    """the credit points of confirmed hits; without them, hits of the region's settlements cannot be confirmed."""
    refuse: list[Annotated[str, Field(min_length=1)]] = []
    """the rules (gongji.monitor checker names) whose definite violation (明确违规) refuses a settlement; the other
    findings are warnings."""


class Version(Strict):
    """The rules in force from `effective_from` to `effective_to` (inclusive; open-ended when absent)."""

    effective_from: date
    effective_to: date | None = None
    title: str = Field(min_length=1)
    pre_reform: bool = False
    outpatient: Outpatient | None = None
    inpatient: Inpatient | None = None
    chronic: Chronic | None = None
    cross_region: CrossRegion | None = None
    crediting: Crediting
    contributions: Contributions | None = None
    """without it, crediting moves only the account credits (no contribution income is booked to the pool)."""
    account_interest: AccountInterest | None = None
    reference_values: dict[str, ReferenceValue] = {}
    monitoring: Monitoring | None = None
    """without it, the monitoring rules use gongji.monitor.checkers.Thresholds' defaults."""

    _admdvs: str = PrivateAttr(default="")

    @property
    def admdvs(self) -> str:
        """The region whose file holds this version (for a county it may be the province)."""
        return self._admdvs

    @model_validator(mode="after")
    def _consistent(self) -> Version:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"effective_to {self.effective_to} is before effective_from {self.effective_from}")
        if self.outpatient and self.outpatient.cap.above == "inpatient" and self.inpatient is None:
            raise ValueError("cap.above is inpatient, so the version needs an inpatient block")
        rule = self.crediting.retired
        if isinstance(rule, AveragePensionPercent) and rule.of not in self.reference_values:
            raise ValueError(f"crediting.retired.of names {rule.of!r}, which is not in reference_values")
        paid = self.contributions
        if paid is not None:
            own, employer = self.crediting.in_service_percents()
            if own > paid.individual_percent or employer > paid.employer_percent:
                raise ValueError("crediting.in_service credits more than the contributions pay in")
        return self

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def disease(self, code: str) -> Disease | None:
        """The chronic or special disease `code` of this version's list, if it is on it."""
        return self.chronic.disease(code) if self.chronic else None

    def cross_region_terms(self, reason: str | None) -> tuple[bool, int]:
        """(whether the pooled fund pays, ratio cut in basis points) for care in another region under a
        registration for `reason`, or without one (None); without a cross_region block, as at home."""
        rules = self.cross_region
        if rules is None:
            return True, 0
        if reason is not None:
            return True, rules.registered[reason]
        return rules.unregistered.pooled, rules.unregistered.ratio_cut


ADMDVS = re.compile(r"^\d{6}$")


class Region(Strict):
    """One region's file: its code (`admdvs`, 医保区划), its name and its versions in date order."""

    admdvs: str
    name: str = Field(min_length=1)
    versions: list[Version] = []

    @field_validator("admdvs")
    @classmethod
    def _six_digits(cls, code: str) -> str:
        if not ADMDVS.match(code):
            raise ValueError("must be a 6-digit region code")
        return code

    @field_validator("versions")
    @classmethod
    def _no_overlap(cls, versions: list[Version]) -> list[Version]:
        ordered = sorted(versions, key=lambda v: v.effective_from)
        for earlier, later in zip(ordered, ordered[1:], strict=False):
            if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                raise ValueError(
                    f"version from {earlier.effective_from} overlaps the one from {later.effective_from}; "
                    "give the earlier an effective_to before the later's effective_from"
                )
        return ordered

    def model_post_init(self, _context: object) -> None:
        for version in self.versions:
            version._admdvs = self.admdvs

    def version_on(self, on: date) -> Version | None:
        return next((v for v in self.versions if v.covers(on)), None)
