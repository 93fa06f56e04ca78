"""Read queries of the member's web pages (gongji.web.member), each on the caller's connection: the account's
movements with the balance after each, the year's credits by source and what the year's deductible and cap have
used, relatives and authorizations, family payments both ways, the settlements with their reversals, and the
visits a member's before/after comparison settles again. Amounts in fen.

A member's own data only: every query is by the member's psn_no (the page has checked who is signed in)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import Connection, and_, extract, func, or_, select

from gongji.engine.outpatient import PHARMACY, Accumulators
from gongji.money import format_yuan
from gongji.services.quote import QuoteVisit
from gongji.services.records import INVERSE, RELATION_ZH
from gongji.services.registrations import is_cross_region
from gongji.store.ledger import (
    ACCOUNT,
    ACCOUNT_PAY,
    CREDIT_EMPLOYER,
    CREDIT_INDIVIDUAL,
    CREDIT_POOL,
    INHERITANCE,
    INTEREST,
    MULAID_PAY,
    OPENING,
    PREMIUM,
    REVERSAL_SUFFIX,
)
from gongji.store.tables import (
    accounts,
    accumulators,
    authorizations,
    disease_accumulators,
    institutions,
    ledger,
    persons,
    registrations,
    relations,
    settlements,
)

CREDIT_KINDS = (CREDIT_INDIVIDUAL, CREDIT_EMPLOYER, CREDIT_POOL)
"""the monthly credits (个人账户划入), by where the money comes from."""
KIND_ZH = {
    OPENING: "期初余额结转", CREDIT_INDIVIDUAL: "个人缴费划入", CREDIT_EMPLOYER: "单位缴费划入",
    CREDIT_POOL: "统筹基金划入（退休人员）", ACCOUNT_PAY: "本人就医支付", MULAID_PAY: "家庭共济支付（为亲属）",
    PREMIUM: "缴纳保费", INHERITANCE: "余额继承支付", INTEREST: "利息",
}


def kind_zh(kind: str) -> str:
    """A ledger kind in Chinese; a reversal as 冲销 of its kind."""
    if kind.endswith(REVERSAL_SUFFIX):
        base = kind.removesuffix(REVERSAL_SUFFIX)
        return f"冲销退回：{KIND_ZH.get(base, base)}"
    return KIND_ZH.get(kind, kind)


def member(conn: Connection, psn_no: str) -> Mapping | None:
    """The person with the account's balance (0 without an account) and closing date."""
    return conn.execute(select(persons, func.coalesce(accounts.c.balance, 0).label("balance"), accounts.c.closed_on)
                        .outerjoin(accounts, accounts.c.psn_no == persons.c.psn_no)
                        .where(persons.c.psn_no == psn_no)).mappings().first()


def psn_no_of(conn: Connection, number: str) -> str | None:
    """The psn_no of the person with this 个人编号 or 证件号码, if any."""
    found = conn.execute(select(persons.c.psn_no).where(persons.c.psn_no == number)).scalar()
    return found or conn.execute(select(persons.c.psn_no).where(persons.c.certno == number.upper())).scalar()


def years_with_data(conn: Connection, psn_no: str) -> list[int]:
    """The years of the member's account movements and settlements, newest first."""
    moved = select(extract("year", ledger.c.occurred_on)).distinct().where(ledger.c.fund == ACCOUNT,
                                                                       ledger.c.holder == psn_no)
    settled = select(extract("year", settlements.c.setl_date)).distinct().where(settlements.c.psn_no == psn_no)
    years = {int(y) for y in conn.execute(moved).scalars()} | {int(y) for y in conn.execute(settled).scalars()}
    return sorted(years, reverse=True)


_OTHER = persons.alias("other")


def movements(conn: Connection, psn_no: str, balance: int, before: int | None = None, limit: int = 100
              ) -> tuple[list[dict], int | None]:
    """The account's movements newest first, at most `limit`, those with a ledger id below `before` when given,
    each with the balance after it (the balance now less every later movement); and the id to pass as `before`
    for the page after, None when there is none."""
    where = [ledger.c.fund == ACCOUNT, ledger.c.holder == psn_no]
    later = 0
    if before is not None:
        where.append(ledger.c.id < before)
        later = conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0)).where(
            ledger.c.fund == ACCOUNT, ledger.c.holder == psn_no, ledger.c.id >= before)).scalar_one()
    rows = conn.execute(
        select(ledger.c.id, ledger.c.occurred_on, ledger.c.kind, ledger.c.amount, ledger.c.psn_no, ledger.c.setl_id,
               ledger.c.memo, _OTHER.c.psn_name.label("other_name"), institutions.c.fixmedins_name)
        .outerjoin(settlements, settlements.c.setl_id == ledger.c.setl_id)
        .outerjoin(institutions, institutions.c.fixmedins_code == settlements.c.fixmedins_code)
        .outerjoin(_OTHER, and_(_OTHER.c.psn_no == ledger.c.psn_no, ledger.c.psn_no != psn_no))
        .where(*where).order_by(ledger.c.id.desc()).limit(limit + 1)).mappings().all()
    after = balance - int(later)
    shown = []
    for r in rows[:limit]:
        shown.append(dict(r) | {"kind_zh": kind_zh(r["kind"]), "balance_after": after})
        after -= r["amount"]
    return shown, (rows[limit - 1]["id"] if len(rows) > limit else None)


def year_credits(conn: Connection, psn_no: str, year: int) -> list[dict]:
    """Each month's credits of `year`: {month (its first day), one amount per CREDIT_KINDS, total}."""
    rows = conn.execute(select(ledger.c.occurred_on, ledger.c.kind, func.sum(ledger.c.amount))
                        .where(ledger.c.fund == ACCOUNT, ledger.c.holder == psn_no, ledger.c.kind.in_(CREDIT_KINDS),
                               ledger.c.occurred_on >= date(year, 1, 1), ledger.c.occurred_on <= date(year, 12, 31))
                        .group_by(ledger.c.occurred_on, ledger.c.kind)).all()
    months: dict[date, dict] = {}
    for on, kind, amount in rows:
        month = on.replace(day=1)
        entry = months.setdefault(month, {"month": month, **dict.fromkeys(CREDIT_KINDS, 0), "total": 0})
        entry[kind] += int(amount)
        entry["total"] += int(amount)
    return [months[m] for m in sorted(months)]


def year_accumulators(conn: Connection, psn_no: str, year: int) -> tuple[Accumulators, list[Mapping]]:
    """The year's accumulators of ordinary pooling (zeros without a row) and each chronic disease's rows."""
    found = conn.execute(select(accumulators.c.deductible, accumulators.c.pool, accumulators.c.covered,
                                accumulators.c.inpatient, accumulators.c.inpatient_dedc)
                         .where(accumulators.c.psn_no == psn_no, accumulators.c.year == year)).first()
    diseases = conn.execute(select(disease_accumulators).where(
        disease_accumulators.c.psn_no == psn_no, disease_accumulators.c.year == year)
        .order_by(disease_accumulators.c.dise_codg)).mappings().all()
    return (Accumulators(*found) if found else Accumulators()), list(diseases)


# Family mutual aid -------------------------------------------------------------------------------------------


def relatives(conn: Connection, me: Mapping) -> list[dict]:
    """The member's spouse, parents and children as either side registered them, and anyone the member's account
    is authorized for: {name, certno, relation, psn_no (None: not a registered person), granted_at (None: not
    authorized to use my account), may_use_theirs (they authorized me)}, by relation and name."""
    found: dict[str, dict] = {}
    mine = conn.execute(select(relations.c.relative_certno, relations.c.relative_name, relations.c.relation,
                               persons.c.psn_no, persons.c.psn_name)
                        .outerjoin(persons, persons.c.certno == relations.c.relative_certno)
                        .where(relations.c.psn_no == me["psn_no"])).all()
    for r in mine:
        found[r.relative_certno] = {"name": r.psn_name or r.relative_name, "certno": r.relative_certno,
                                    "relation": r.relation, "psn_no": r.psn_no}
    theirs = conn.execute(select(persons.c.psn_no, persons.c.psn_name, persons.c.certno, relations.c.relation)
                          .join(relations, relations.c.psn_no == persons.c.psn_no)
                          .where(relations.c.relative_certno == me["certno"])).all()
    for r in theirs:
        found.setdefault(r.certno, {"name": r.psn_name, "certno": r.certno, "relation": INVERSE[r.relation],
                                    "psn_no": r.psn_no})
    active = authorizations.c.revoked_at.is_(None)
    granted = conn.execute(select(authorizations.c.user_psn_no, authorizations.c.relation,
                                  authorizations.c.granted_at, persons.c.psn_name, persons.c.certno)
                           .join(persons, persons.c.psn_no == authorizations.c.user_psn_no)
                           .where(authorizations.c.owner_psn_no == me["psn_no"], active)).all()
    by_psn = {r["psn_no"]: r for r in found.values() if r["psn_no"]}
    for g in granted:
        if g.user_psn_no not in by_psn:  # authorized under a relation no longer registered
            by_psn[g.user_psn_no] = found[g.certno] = {"name": g.psn_name, "certno": g.certno,
                                                        "relation": g.relation, "psn_no": g.user_psn_no}
        by_psn[g.user_psn_no]["granted_at"] = g.granted_at
    owners = set(conn.execute(select(authorizations.c.owner_psn_no)
                              .where(authorizations.c.user_psn_no == me["psn_no"], active)).scalars())
    order = {"spouse": 0, "parent": 1, "child": 2}
    result = [r | {"granted_at": r.get("granted_at"), "may_use_theirs": r["psn_no"] in owners,
                   "relation_zh": RELATION_ZH.get(r["relation"], r["relation"])} for r in found.values()]
    return sorted(result, key=lambda r: (order.get(r["relation"], 9), r["name"], r["certno"]))


FAMILY_LIMIT = 100


def _family_payments(conn: Connection, where, person_column) -> list[dict]:
    rows = conn.execute(
        select(ledger.c.occurred_on, (-ledger.c.amount).label("amount"), ledger.c.setl_id, settlements.c.reversed_by,
               institutions.c.fixmedins_name, _OTHER.c.psn_name, _OTHER.c.certno)
        .join(settlements, settlements.c.setl_id == ledger.c.setl_id)
        .outerjoin(institutions, institutions.c.fixmedins_code == settlements.c.fixmedins_code)
        .outerjoin(_OTHER, _OTHER.c.psn_no == person_column)
        .where(ledger.c.fund == ACCOUNT, ledger.c.kind == MULAID_PAY, *where)
        .order_by(ledger.c.id.desc()).limit(FAMILY_LIMIT)).mappings().all()
    return [dict(r) for r in rows]


def paid_for_relatives(conn: Connection, psn_no: str) -> list[dict]:
    """Where the member's account paid a relative's share (家庭共济), newest first: {occurred_on, amount,
    setl_id, reversed_by, fixmedins_name, psn_name, certno (the patient's)}."""
    return _family_payments(conn, [ledger.c.holder == psn_no], ledger.c.psn_no)


def paid_by_relatives(conn: Connection, psn_no: str) -> list[dict]:
    """Where a relative's account paid for the member, newest first, with the account owner's name and certno."""
    return _family_payments(conn, [settlements.c.psn_no == psn_no, settlements.c.acct_mulaid_pay != 0,
                                   ledger.c.holder != psn_no], ledger.c.holder)


# Settlements ---------------------------------------------------------------------------------------------------


def settlements_page(conn: Connection, psn_no: str, before: int | None = None, limit: int = 50
                     ) -> tuple[list[dict], int | None]:
    """The member's settlements and reversals by visit date, newest first (a reversal keeps its settlement's date,
    so it comes just before it), with the institution's name, the breakdown (fund: what
    the pooled fund paid under every benefit; deductible: both benefits'; own_account: acct_pay less the family
    part), the reversal of a reversed one (`reversal`: {setl_id, setl_time}), and `payers`: the names of the
    relatives whose accounts paid. The id for the page after, None when there is none."""
    s = settlements.c
    where = [s.psn_no == psn_no]
    if before is not None:  # the settlements after the one of id `before` in the order shown
        day = conn.execute(select(s.setl_date).where(s.id == before, s.psn_no == psn_no)).scalar()
        if day is not None:
            where.append(or_(s.setl_date < day, and_(s.setl_date == day, s.id < before)))
    rows = conn.execute(select(settlements, institutions.c.fixmedins_name)
                        .outerjoin(institutions, institutions.c.fixmedins_code == s.fixmedins_code)
                        .where(*where).order_by(s.setl_date.desc(), s.id.desc()).limit(limit + 1)).mappings().all()
    page = rows[:limit]
    ids = [r["setl_id"] for r in page]
    reversals = {r.setl_id: r for r in conn.execute(
        select(s.setl_id, s.setl_time).where(s.setl_id.in_([r["reversed_by"] for r in page if r["reversed_by"]])))}
    payers: dict[str, list[str]] = {}
    for setl_id, name in conn.execute(select(ledger.c.setl_id, persons.c.psn_name)
                                      .join(persons, persons.c.psn_no == ledger.c.holder)
                                      .where(ledger.c.setl_id.in_(ids), ledger.c.kind == MULAID_PAY)
                                      .order_by(ledger.c.id)):
        payers.setdefault(setl_id, []).append(name)
    shown = []
    for r in page:
        reversal = reversals.get(r["reversed_by"]) if r["reversed_by"] else None
        shown.append(dict(r) | {
            "fund": r["hifp_pay"] + r["inpatient_pay"] + r["chronic_pay"],
            "deductible": r["act_pay_dedc"] + r["chronic_dedc"],
            "own_account": r["acct_pay"] - r["acct_mulaid_pay"],
            "reversal": None if reversal is None else {"setl_id": reversal.setl_id, "setl_time": reversal.setl_time},
            "payers": payers.get(r["setl_id"], [])})
    return shown, (page[-1]["id"] if len(rows) > limit else None)


STANDING_TOTALS = ("medfee_sumamt", "fulamt_ownpay_amt", "act_pay_dedc", "chronic_dedc", "hifp_pay", "inpatient_pay",
                   "chronic_pay", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")


def standing_totals(conn: Connection, psn_no: str, year: int) -> dict[str, int]:
    """The year's sums over the settlements that stand (neither reversed nor a reversal), by setl_date, and
    their count (`count`)."""
    s = settlements.c
    row = conn.execute(select(func.count(), *(func.coalesce(func.sum(s[k]), 0) for k in STANDING_TOTALS))
                       .where(s.psn_no == psn_no, s.reverses.is_(None), s.reversed_by.is_(None),
                              s.setl_date >= date(year, 1, 1), s.setl_date <= date(year, 12, 31))).one()
    totals = {"count": int(row[0])} | {k: int(v) for k, v in zip(STANDING_TOTALS, row[1:], strict=True)}
    return totals | {"fund": totals["hifp_pay"] + totals["inpatient_pay"] + totals["chronic_pay"],
                     "deductible": totals["act_pay_dedc"] + totals["chronic_dedc"],
                     "own_account": totals["acct_pay"] - totals["acct_mulaid_pay"]}


# Before and after the reform -----------------------------------------------------------------------------------


def comparison_visits(conn: Connection, psn_no: str, region: str, today: date
                      ) -> tuple[int | None, bool, list[QuoteVisit]]:
    """The member's own visits to settle again under both policies: the standing settlements of the last full
    calendar year that has any (before `today`'s year), else of this year so far. Each visit keeps its date,
    level, setting, prescription and place of care; its covered cost is what ordinary pooling would see
    (inscp_scp_amt less the chronic-disease part, which the reform does not change; a visit left with nothing is
    left out). Returns (year or None without any, whether the year is a full past year, the visits)."""
    s = settlements.c
    rows = conn.execute(
        select(s.setl_date, s.level, s.setting, s.rxno, s.inscp_scp_amt, s.chronic_covered, s.mdtrtarea_admvs,
               registrations.c.reason)
        .outerjoin(registrations, registrations.c.id == s.registration_id)
        .where(s.psn_no == psn_no, s.reverses.is_(None), s.reversed_by.is_(None),
               s.setl_date <= today, s.inscp_scp_amt > s.chronic_covered)
        .order_by(s.setl_date, s.id)).all()
    past = [r.setl_date.year for r in rows if r.setl_date.year < today.year]
    year = max(past) if past else (today.year if rows else None)
    visits = []
    for r in rows:
        if r.setl_date.year != year:
            continue
        away = r.mdtrtarea_admvs is not None and is_cross_region(region, r.mdtrtarea_admvs)
        visits.append(QuoteVisit(
            date=r.setl_date, level=r.level or 1, setting=r.setting,
            prescribed=r.rxno is not None if r.setting == PHARMACY else True,
            treated_in=r.mdtrtarea_admvs if away else None, registration=r.reason if away else None,
            covered=format_yuan(r.inscp_scp_amt - r.chronic_covered)))
    return year, bool(past), visits


def credits_in(conn: Connection, psn_no: str, year: int) -> int | None:
    """The member's account credits of `year` by the ledger, None when the ledger has none."""
    total = conn.execute(select(func.sum(ledger.c.amount)).where(
        ledger.c.fund == ACCOUNT, ledger.c.holder == psn_no, ledger.c.kind.in_(CREDIT_KINDS),
        ledger.c.occurred_on >= date(year, 1, 1), ledger.c.occurred_on <= date(year, 12, 31))).scalar()
    return None if total is None else int(total)

