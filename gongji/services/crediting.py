"""`gongji credit --month YYYY-MM`: a month's contributions and account credits (个人账户计入), set-based.

For each region, under the policy in force on the first of the month, one transaction:
* every in-service member in normal status is credited the in-service rule's parts (own contribution, and
  before the reform a share of the employer's); every retiree in normal status the retiree rule's amount,
  paid by the pooled fund;
* the employer and individual contributions that are not credited to accounts go to the pooled fund.
The SQL computes what `gongji.engine.credit.monthly_credit` computes for one member (a test holds them
equal). A run is recorded per region and month; a second run credits nothing and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import Connection, Engine, and_, case, func, literal, select, update

from gongji.engine.credit import EMPLOYER, INDIVIDUAL, MONTHS_PER_YEAR, POOL
from gongji.errors import InputError
from gongji.money import BP_ONE, div_half_up, format_yuan, half_up_bp
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.policy.schema import (
    AveragePensionPercent,
    BaseAndEmployerPercent,
    FixedByAge,
    OwnPensionPercent,
    PreviousYearMonthly,
    Version,
)
from gongji.services.records import NORMAL
from gongji.store import runs
from gongji.store.db import transaction
from gongji.store.ledger import (
    ACCOUNT,
    CONTRIBUTION,
    CREDIT_EMPLOYER,
    CREDIT_INDIVIDUAL,
    CREDIT_POOL,
    DEPOSIT,
    now,
    pool_in,
    pool_out,
    post_from_select,
)
from gongji.store.tables import accounts, batch_runs, persons

CREDIT_RUN = "credit"
CHUNK = 100_000
LEDGER_KIND = {INDIVIDUAL: CREDIT_INDIVIDUAL, EMPLOYER: CREDIT_EMPLOYER, POOL: CREDIT_POOL}


@dataclass
class RegionCredit:
    admdvs: str
    month: date
    policy: str = ""
    already: bool = False
    members: int = 0
    credited: dict[str, int] = field(default_factory=dict)
    """account credits by source (individual_contribution, employer_contribution, pool)."""
    contributions_to_pool: int = 0


def parse_month(text: str) -> date:
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise InputError(f"--month: {text!r} is not a month like 2024-01") from None


def _half_up_percent(amount, bp: int):
    """amount x bp / 10000, half-up, as a SQL expression (amount is a non-negative integer column)."""
    return half_up_bp(amount * bp)


def _retired(month: date):
    """The member counts as retired in `month` (see `records.member_type_on`)."""
    return case((persons.c.retire_date.is_not(None), persons.c.retire_date < month),
                else_=persons.c.psn_type.like("12%"))


def _credit_parts(version: Version, month: date) -> dict[str, object]:
    """source -> SQL expression of the member's credit from it this month (0 where it does not apply)."""
    retired = _retired(month)
    rule = version.crediting.retired
    if isinstance(rule, FixedByAge):
        bands = sorted(rule.amounts.items(), reverse=True)
        retiree = case(*((persons.c.brdy <= month.replace(year=month.year - age), literal(amount))
                         for age, amount in bands if age > 0), else_=literal(rule.amounts[0]))
    elif isinstance(rule, AveragePensionPercent):
        retiree = literal(div_half_up(version.reference_values[rule.of].amount * rule.percent, BP_ONE))
    elif isinstance(rule, PreviousYearMonthly):
        retiree = (2 * persons.c.prev_year_credits + MONTHS_PER_YEAR) // (2 * MONTHS_PER_YEAR)
    elif isinstance(rule, OwnPensionPercent):
        retiree = _half_up_percent(persons.c.pension, rule.percent)
    else:
        raise TypeError(f"unknown retiree crediting rule {rule!r}")
    own, employer = version.crediting.in_service_percents()
    parts = {INDIVIDUAL: case((retired, 0), else_=_half_up_percent(persons.c.crt_cont_base, own)),
             POOL: case((retired, retiree), else_=0)}
    if isinstance(version.crediting.in_service, BaseAndEmployerPercent):
        parts[EMPLOYER] = case((retired, 0), else_=_half_up_percent(persons.c.crt_cont_base, employer))
    return parts


def _to_pool(version: Version, month: date):
    """What an in-service member's contributions put into the pool this month, beyond their credit."""
    paid = version.contributions
    if paid is None:
        return literal(0)
    own, employer = version.crediting.in_service_percents()
    base = persons.c.crt_cont_base
    kept = (_half_up_percent(base, paid.employer_percent) + _half_up_percent(base, paid.individual_percent)
            - _half_up_percent(base, own) - _half_up_percent(base, employer))
    return case((_retired(month), 0), else_=kept)


def _eligible(admdvs: str, month: date):
    month_end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return and_(persons.c.insuplc_admdvs == admdvs, persons.c.psn_insu_stas == NORMAL,
                persons.c.psn_insu_date < month_end, accounts.c.psn_no == persons.c.psn_no,
                accounts.c.closed_on.is_(None))


def _chunks(conn: Connection, where) -> list[tuple[str | None, str | None]]:
    """psn_no ranges of about CHUNK members each, (low inclusive, high exclusive)."""
    ordered = select(persons.c.psn_no, func.row_number().over(order_by=persons.c.psn_no).label("n")) \
        .select_from(persons.join(accounts, accounts.c.psn_no == persons.c.psn_no)).where(where).subquery()
    edges = conn.execute(select(ordered.c.psn_no).where((ordered.c.n - 1) % CHUNK == 0)
                         .order_by(ordered.c.psn_no)).scalars().all()
    return [(low, edges[i + 1] if i + 1 < len(edges) else None) for i, low in enumerate(edges)]


def credit_region(conn: Connection, version: Version, admdvs: str, month: date, run_id: int,
                  advance: Callable[[int], None] = lambda n: None) -> RegionCredit:
    result = RegionCredit(admdvs, month, policy=version.title)
    where = _eligible(admdvs, month)
    parts = _credit_parts(version, month)
    stamp = now()
    # The range on both keys (equal by the join) lets PostgreSQL read a chunk of accounts by its primary key
    # instead of scanning the whole table in every statement.
    keys = (persons.c.psn_no, accounts.c.psn_no)
    for low, high in _chunks(conn, where):
        in_range = and_(where, *(key >= low for key in keys), *(key < high for key in keys if high is not None))
        for source, amount in parts.items():
            rows = select(literal(ACCOUNT), persons.c.psn_no, literal(LEDGER_KIND[source]), amount, literal(month),
                          literal(stamp), persons.c.psn_no, literal(run_id)) \
                .select_from(persons).where(in_range, amount > 0)
            post_from_select(conn, rows)
        total = sum(parts.values(), literal(0))
        conn.execute(update(accounts).where(in_range).values(balance=accounts.c.balance + total))
        counted = conn.execute(select(func.count(), *(func.coalesce(func.sum(a), 0) for a in parts.values()),
                                      func.coalesce(func.sum(_to_pool(version, month)), 0))
                               .select_from(persons.join(accounts, accounts.c.psn_no == persons.c.psn_no))
                               .where(in_range)).one()
        result.members += counted[0]
        for source, value in zip(parts, counted[1:-1], strict=True):
            result.credited[source] = result.credited.get(source, 0) + int(value)
        result.contributions_to_pool += int(counted[-1])
        advance(counted[0])
    pool_in(conn, admdvs, result.contributions_to_pool, CONTRIBUTION, month, run_id=run_id,
            memo=f"contributions not credited to accounts, {month:%Y-%m}")
    pool_out(conn, admdvs, [(CREDIT_POOL, result.credited.get(POOL, 0))], month, run_id=run_id,
             memo=f"retirees' account credits, {month:%Y-%m}")
    runs.finish(conn, run_id, result.members, sum(result.credited.values()))
    return result


def regions_with_members(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(persons.c.insuplc_admdvs).distinct().order_by(persons.c.insuplc_admdvs))
                    .scalars())


def stored_runs(conn: Connection, month: date, regions: list[str]) -> list[dict]:
    """The crediting runs stored for `month` of `regions` (admdvs, members, amount)."""
    return [dict(r) for r in conn.execute(
        select(batch_runs.c.admdvs, batch_runs.c.members, batch_runs.c.amount).where(
            batch_runs.c.kind == CREDIT_RUN, batch_runs.c.period == month, batch_runs.c.admdvs.in_(regions))
        .order_by(batch_runs.c.admdvs)).mappings()]


def count_members(engine: Engine, admdvs: str, month: date) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(persons).join(accounts)
                            .where(_eligible(admdvs, month))).scalar_one()


def credit_month(engine: Engine, book: PolicyBook, month: date, admdvs: str,
                 advance: Callable[[int], None] = lambda n: None,
                 also: Callable[[Connection, dict], None] | None = None) -> RegionCredit:
    """Credit one region for one month in one transaction; a repeated run returns `already`. `also(conn, run)`
    runs at the end of the same transaction when the month is credited, given the result and the run's id."""
    try:
        version = book.policy_for(admdvs, month)
    except PolicyNotFound as exc:
        raise InputError(f"--region {admdvs}, --month {month:%Y-%m}: {exc}") from None

    def work(conn: Connection, run_id: int) -> RegionCredit:
        result = credit_region(conn, version, admdvs, month, run_id, advance)
        if also is not None:
            also(conn, asdict(result) | {"run_id": run_id})
        return result

    return runs.once(engine, CREDIT_RUN, admdvs, month, work) or RegionCredit(admdvs, month, policy=version.title,
                                                                              already=True)


def deposit(engine: Engine, admdvs: str, amount: int, on: date, memo: str = "") -> None:
    """Money put into a region's pool from outside gongji: the reserve carried over (累计结存), a subsidy."""
    if amount <= 0:
        raise InputError(f"amount: must be more than 0 (value: {format_yuan(amount)})")
    if not (len(admdvs) == 6 and admdvs.isdigit()):
        raise InputError(f"admdvs: {admdvs!r} is not a 6-digit region code")
    with transaction(engine) as conn:
        pool_in(conn, admdvs, amount, DEPOSIT, on, memo=memo or "deposit")
