"""`gongji report kpi --year YYYY`: the year's figures the national healthcare security bureau publishes about
outpatient mutual aid (门诊共济保障), computed from the live database in one read transaction.

What the bureau publishes (SPEC.md §7) and the figure here that answers it:
* outpatient pooling settlements (门诊统筹结算人次) and the average per day, the fund's payment (统筹基金支付);
* the burden relieved (减轻负担): what the pooled fund paid, and its share of the cost;
* pharmacy settlements (定点零售药店门诊统筹结算人次), the fund's payment there and the average reimbursed
  per pharmacy visit (次均报销);
* the personal accounts' income (个人账户计入) and spending, own care apart from family mutual aid (家庭共济);
* members by type (参保职工, 退休人员) and settlements by member type.

Definitions (exact):
* A settlement belongs to the year by its `setl_date`, the date of the visit. (`setl_time` is the moment the row
  was written, which for a late batch or a replayed year is not the visit's.)
* A reversed settlement (撤销) counts out: it and its reversal are both left out. The reversal repeats the
  original's `setl_date` with every amount negated, so this equals netting them; `reversed` counts them.
* A pooling settlement (门诊统筹结算) is one where ordinary outpatient pooling paid something:
  hifp_pay + inpatient_pay > 0 (a visit past the cap whose cost the inpatient benefit pays is still one).
* Fund paid (统筹基金支付) = hifp_pay + inpatient_pay + chronic_pay (ordinary pooling, the inpatient benefit of
  cost above the outpatient cap, chronic and special diseases 门诊慢特病). Burden relief (减轻负担) is the fund
  paid; its share is fund paid / medfee_sumamt in basis points, half-up.
* Pharmacy settlements are those settled at a designated retail pharmacy (setting "pharmacy", med_type 41);
  the average reimbursed per pharmacy visit is the fund paid at pharmacies / the pharmacy pooling settlements,
  half-up to the fen (the bureau's 1.434 billion yuan / 29.62 million = 48.41 yuan); None without any.
* Pooling settlements per day = pooling settlements / the days of the calendar year (365 or 366), half-up to
  two decimals, also for a year not yet over.
* Account income and spending come from the ledger (账务流水), dated by `occurred_on`, each kind net of its
  reversals: credits by source (the member's own contribution, the employer's, the pooled fund's for retirees),
  interest; spending on the owner's own care (acct_pay less acct_mulaid_pay), on relatives' care (家庭共济,
  acct_mulaid_pay) and premiums (保费; the ledger does not say whose, so they are not split).
* Members: persons insured by 31 December of the year and not terminated (psn_insu_stas 4) before 1 January;
  their type as on 31 December (retired from the month after retire_date, else as psn_type says).
* `admdvs` limits everything to members insured in that region (insuplc_admdvs), its cities and counties
  included: 530000 is every code 53xxxx, 530900 every 5309xx, 530925 itself. Settlements by the region they
  were settled under, the ledger and the members by the person's region now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Engine, and_, case, func, or_, select, true

from gongji.engine.outpatient import PHARMACY
from gongji.errors import InputError
from gongji.money import BP_ONE, div_half_up, format_percent, format_yuan
from gongji.policy.values import RETIRED
from gongji.services.crediting import _retired as retired_in
from gongji.services.records import TERMINATED
from gongji.store.ledger import (
    ACCOUNT,
    ACCOUNT_PAY,
    CREDIT_EMPLOYER,
    CREDIT_INDIVIDUAL,
    CREDIT_POOL,
    INTEREST,
    MULAID_PAY,
    PREMIUM,
    REVERSAL_SUFFIX,
)
from gongji.store.tables import ledger, persons, settlements

STEPS = 4
"""query groups `year_kpi` runs, each followed by a call of `advance` (for a progress bar)."""
FIRST_YEAR, LAST_YEAR = 1000, 9999

ACCOUNT_KINDS = {CREDIT_INDIVIDUAL: "credits_individual", CREDIT_EMPLOYER: "credits_employer",
                 CREDIT_POOL: "credits_pool", INTEREST: "interest", ACCOUNT_PAY: "account_paid_own",
                 MULAID_PAY: "account_paid_family", PREMIUM: "premiums_paid"}
"""ledger kind -> YearKpi field; income kinds add, spending kinds (negative in the ledger) are shown positive."""
SPENDING = {ACCOUNT_PAY, MULAID_PAY, PREMIUM}


@dataclass(frozen=True)
class YearKpi:
    """A year's figures; amounts in fen, counts int (see the module docstring for each definition)."""

    year: int
    admdvs: str | None
    days: int
    """days of the calendar year."""
    settlements: int
    """settlements standing (not reversed, not reversals) dated in the year."""
    reversed: int
    """settlements dated in the year that were reversed (left out of every figure)."""
    pooling_settlements: int
    medfee_sumamt: int
    hifp_pay: int
    inpatient_pay: int
    chronic_pay: int
    pharmacy_settlements: int
    pharmacy_pooling_settlements: int
    pharmacy_fund_paid: int
    family_aid_settlements: int
    """settlements a relative's account paid part of (家庭共济人次)."""
    settlements_in_service: int
    settlements_retired: int
    fund_paid_in_service: int
    fund_paid_retired: int
    credits_individual: int
    credits_employer: int
    credits_pool: int
    interest: int
    account_paid_own: int
    account_paid_family: int
    premiums_paid: int
    members_in_service: int
    members_retired: int

    @property
    def fund_paid(self) -> int:
        """统筹基金支付, the burden relieved (减轻负担)."""
        return self.hifp_pay + self.inpatient_pay + self.chronic_pay

    @property
    def relief_share(self) -> int | None:
        """fund paid / medfee_sumamt in basis points, half-up; None without any cost."""
        return div_half_up(self.fund_paid * BP_ONE, self.medfee_sumamt) if self.medfee_sumamt > 0 else None

    @property
    def pooling_per_day(self) -> Decimal:
        return (Decimal(self.pooling_settlements) / self.days).quantize(Decimal("0.01"), ROUND_HALF_UP)

    @property
    def pharmacy_average(self) -> int | None:
        """fund paid at pharmacies per pharmacy pooling settlement, half-up to the fen; None without any."""
        if not self.pharmacy_pooling_settlements:
            return None
        return div_half_up(self.pharmacy_fund_paid, self.pharmacy_pooling_settlements)

    @property
    def account_income(self) -> int:
        return self.credits_individual + self.credits_employer + self.credits_pool + self.interest

    @property
    def account_spending(self) -> int:
        return self.account_paid_own + self.account_paid_family + self.premiums_paid

    @property
    def members(self) -> int:
        return self.members_in_service + self.members_retired


def parse_year(text: str | int, what: str = "year") -> int:
    """A 4-digit year, or an InputError naming `what` and the value."""
    value = str(text).strip()
    if not (len(value) == 4 and value.isdigit() and FIRST_YEAR <= int(value) <= LAST_YEAR):
        raise InputError(f"{what}: {text!r} is not a year like 2024")
    return int(value)


def parse_admdvs(text: str, what: str = "admdvs") -> str:
    if not (len(text) == 6 and text.isdigit()):
        raise InputError(f"{what}: {text!r} is not a 6-digit region code (admdvs)")
    return text


def _region_prefix(admdvs: str) -> str:
    """The codes a region takes in: 530000 -> 53, 530900 -> 5309, 530925 -> 530925."""
    if admdvs.endswith("0000"):
        return admdvs[:2]
    if admdvs.endswith("00"):
        return admdvs[:4]
    return admdvs


def in_region(column, admdvs: str | None):
    """`column` is the region `admdvs` or one of its cities and counties; every region when None."""
    if admdvs is None:
        return true()
    prefix = _region_prefix(admdvs)
    return column == prefix if len(prefix) == 6 else column.like(prefix + "%")


def year_kpi(engine: Engine, year: int, admdvs: str | None = None,
             advance: Callable[[], None] = lambda: None) -> YearKpi:
    """The figures of `year` (for members insured in `admdvs` when given), in one read transaction."""
    year = parse_year(year)
    if admdvs is not None:
        parse_admdvs(admdvs)
    first, last = date(year, 1, 1), date(year, 12, 31)
    s = settlements.c
    figures: dict[str, int] = {}
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Every query sees the same snapshot (SQLite's BEGIN IMMEDIATE already gives one).
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        dated = and_(s.setl_date >= first, s.setl_date <= last, in_region(s.insuplc_admdvs, admdvs))
        fund = s.hifp_pay + s.inpatient_pay + s.chronic_pay
        pooling = (s.hifp_pay + s.inpatient_pay) > 0

        def count(condition):
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        def total(amount):
            return func.coalesce(func.sum(amount), 0)

        rows = conn.execute(select(
            s.member_type, s.setting, func.count(), count(pooling), total(s.medfee_sumamt), total(s.hifp_pay),
            total(s.inpatient_pay), total(s.chronic_pay), total(fund), count(s.acct_mulaid_pay > 0))
            .where(dated, s.reverses.is_(None), s.reversed_by.is_(None))
            .group_by(s.member_type, s.setting)).all()
        for name in ("settlements", "pooling_settlements", "medfee_sumamt", "hifp_pay", "inpatient_pay",
                     "chronic_pay", "pharmacy_settlements", "pharmacy_pooling_settlements", "pharmacy_fund_paid",
                     "family_aid_settlements", "settlements_in_service", "settlements_retired",
                     "fund_paid_in_service", "fund_paid_retired"):
            figures[name] = 0
        for member_type, setting, n, pooled, medfee, hifp, inpatient, chronic, paid, family in rows:
            n, pooled, paid = int(n), int(pooled), int(paid)
            figures["settlements"] += n
            figures["pooling_settlements"] += pooled
            figures["medfee_sumamt"] += int(medfee)
            figures["hifp_pay"] += int(hifp)
            figures["inpatient_pay"] += int(inpatient)
            figures["chronic_pay"] += int(chronic)
            figures["family_aid_settlements"] += int(family)
            if setting == PHARMACY:
                figures["pharmacy_settlements"] += n
                figures["pharmacy_pooling_settlements"] += pooled
                figures["pharmacy_fund_paid"] += paid
            kind = "retired" if member_type == RETIRED else "in_service"
            figures[f"settlements_{kind}"] += n
            figures[f"fund_paid_{kind}"] += paid
        advance()

        figures["reversed"] = int(conn.execute(select(func.count()).select_from(settlements).where(
            dated, s.reverses.is_(None), s.reversed_by.is_not(None))).scalar_one())
        advance()

        base_kind = case(*((ledger.c.kind == k + REVERSAL_SUFFIX, k) for k in ACCOUNT_KINDS), else_=ledger.c.kind)
        wanted = [*ACCOUNT_KINDS, *(k + REVERSAL_SUFFIX for k in ACCOUNT_KINDS)]
        moves = select(base_kind, func.sum(ledger.c.amount)).where(
            ledger.c.fund == ACCOUNT, ledger.c.kind.in_(wanted), ledger.c.occurred_on >= first,
            ledger.c.occurred_on <= last)
        if admdvs is not None:
            moves = moves.join(persons, persons.c.psn_no == ledger.c.holder) \
                .where(in_region(persons.c.insuplc_admdvs, admdvs))
        figures.update(dict.fromkeys(ACCOUNT_KINDS.values(), 0))
        for kind, amount in conn.execute(moves.group_by(base_kind)).all():
            figures[ACCOUNT_KINDS[kind]] += -int(amount) if kind in SPENDING else int(amount)
        advance()

        retired = retired_in(date(year, 12, 1))  # retired on 31 December: from the month after retire_date
        insured = and_(persons.c.psn_insu_date <= last, in_region(persons.c.insuplc_admdvs, admdvs),
                       or_(persons.c.psn_insu_stas != TERMINATED, persons.c.stas_date >= first))
        retirees, everyone = conn.execute(select(count(retired), func.count()).select_from(persons)
                                          .where(insured)).one()
        figures["members_retired"], figures["members_in_service"] = int(retirees), int(everyone) - int(retirees)
        advance()
    return YearKpi(year=year, admdvs=admdvs, days=(date(year + 1, 1, 1) - first).days, **figures)


AMOUNTS = ("medfee_sumamt", "hifp_pay", "inpatient_pay", "chronic_pay", "fund_paid", "pharmacy_fund_paid",
           "pharmacy_average", "fund_paid_in_service", "fund_paid_retired", "credits_individual",
           "credits_employer", "credits_pool", "interest", "account_income", "account_paid_own",
           "account_paid_family", "premiums_paid", "account_spending")


def in_yuan(kpi: YearKpi) -> dict:
    """The figures as JSON-ready data: amounts as yuan strings, counts as numbers, the relief share as a percent
    and in basis points, per day as a decimal string; None where a figure has no value."""
    data = asdict(kpi) | {name: getattr(kpi, name) for name in (
        "fund_paid", "pharmacy_average", "account_income", "account_spending", "members")}
    data = {k: (format_yuan(v) if k in AMOUNTS and v is not None else v) for k, v in data.items()}
    share = kpi.relief_share
    return data | {"relief_share_bp": share, "relief_share": format_percent(share) if share is not None else None,
                   "pooling_per_day": str(kpi.pooling_per_day)}
