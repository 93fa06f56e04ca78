"""Read-only views the staff pages show that the other services do not give: a year's fund and account flows by
month, the fund's payments by institution level and member type, names of people, institutions and items, a
visit's settlement trail and the monitoring hits on a settlement."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, extract, func, select

from gongji.services.kpi import in_region
from gongji.store.ledger import POOL, REVERSAL_SUFFIX
from gongji.store.tables import catalogue, institutions, ledger, monitor_hits, persons, settlements


def flows_by_month(engine: Engine, fund: str, year: int, admdvs: str | None) -> dict[str, list[int]]:
    """kind -> the year's 12 monthly sums of `fund` (ledger signs: in +, out -), each kind net of its reversals;
    the pool of `admdvs`, or the accounts of members insured there."""
    month = extract("month", ledger.c.occurred_on)
    query = select(month, ledger.c.kind, func.sum(ledger.c.amount)).where(
        ledger.c.fund == fund, ledger.c.occurred_on >= date(year, 1, 1), ledger.c.occurred_on <= date(year, 12, 31))
    if fund == POOL:
        query = query.where(in_region(ledger.c.holder, admdvs))
    elif admdvs is not None:
        query = query.join(persons, persons.c.psn_no == ledger.c.holder) \
            .where(in_region(persons.c.insuplc_admdvs, admdvs))
    flows: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for m, kind, amount in conn.execute(query.group_by(month, ledger.c.kind)):
            flows.setdefault(kind.removesuffix(REVERSAL_SUFFIX), [0] * 12)[int(m) - 1] += int(amount)
    return flows


def fund_by_level(engine: Engine, year: int, admdvs: str | None) -> list[tuple]:
    """(level, member type, settlements, cost, fund, account, cash) of the year's standing settlements."""
    s = settlements.c
    fund = s.hifp_pay + s.inpatient_pay + s.chronic_pay
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(s.level, s.member_type, func.count(), func.sum(s.medfee_sumamt), func.sum(fund),
                   func.sum(s.acct_pay), func.sum(s.psn_cash_pay))
            .where(s.setl_date >= date(year, 1, 1), s.setl_date <= date(year, 12, 31), s.reverses.is_(None),
                   s.reversed_by.is_(None), in_region(s.insuplc_admdvs, admdvs))
            .group_by(s.level, s.member_type).order_by(s.level, s.member_type))]


def latest_year(engine: Engine) -> int:
    """The year of the newest ledger movement (this year when there is none)."""
    with engine.connect() as conn:
        last = conn.execute(select(func.max(ledger.c.occurred_on))).scalar()
    return last.year if last else date.today().year


def names(engine: Engine, psn_nos: set[str], codes: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Names of the persons and institutions given."""
    with engine.connect() as conn:
        people = dict(conn.execute(select(persons.c.psn_no, persons.c.psn_name)
                                   .where(persons.c.psn_no.in_(sorted(psn_nos)))).all()) if psn_nos else {}
        places = dict(conn.execute(select(institutions.c.fixmedins_code, institutions.c.fixmedins_name)
                                   .where(institutions.c.fixmedins_code.in_(sorted(codes)))).all()) if codes else {}
    return people, places


def item_names(engine: Engine, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    with engine.connect() as conn:
        return dict(conn.execute(select(catalogue.c.med_list_codg, catalogue.c.med_list_name)
                                 .where(catalogue.c.med_list_codg.in_(sorted(codes)))).all())


def settlement_trail(engine: Engine, mdtrt_id: str) -> list[dict]:
    """Every settlement and reversal of the visit, in the order made."""
    s = settlements.c
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(s.setl_id, s.setl_date, s.setl_time, s.medfee_sumamt, s.hifp_pay, s.inpatient_pay, s.chronic_pay,
                   s.acct_pay, s.psn_cash_pay, s.reverses, s.reversed_by)
            .where(s.mdtrt_id == mdtrt_id).order_by(s.id)).mappings()]


def hits_on(engine: Engine, setl_id: str) -> list[dict]:
    """The monitoring hits on a settlement, in the order found."""
    h = monitor_hits.c
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(h.hit_id, h.rule, h.code, h.cls, h.line, h.amount, h.status, h.clawed_back)
            .where(h.setl_id == setl_id).order_by(h.found_at, h.hit_id)).mappings()]
