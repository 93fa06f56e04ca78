"""The personal account's other uses and events: premiums, a member's death, yearly interest.

May pay (国办发〔2021〕14号 五; Yangzhou Q12): the resident-insurance premium (城乡居民医保) of a spouse, parent or
child; the member's own supplementary insurance premium (大额补助, 大病保险, 长期护理); government-guided
commercial health insurance (e.g. 江苏医惠保) of the member or those relatives. May not pay (Q13): public
health, fitness, wellness or other spending outside basic medical insurance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import BigInteger, Connection, Engine, and_, cast, func, literal, select, update

from gongji.errors import InputError
from gongji.money import format_yuan, half_up_bp
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services.family import registered_person
from gongji.services.records import NORMAL, PAUSED, TERMINATED, check_certno
from gongji.store import runs
from gongji.store.db import transaction
from gongji.store.ledger import ACCOUNT, INHERITANCE, INTEREST, PREMIUM, account_move, now, post_from_select
from gongji.store.tables import accounts, authorizations, ledger, persons, relations

ALLOWED = {
    "resident": ("relative", "城乡居民医保个人缴费 of a spouse, parent or child"),
    "supplementary": ("self", "the member's supplementary insurance premium (大额补助/大病保险/长期护理)"),
    "commercial": ("either", "government-guided commercial health insurance (惠民保)"),
}
REFUSED = {
    "public_health": "公共卫生费用 is paid by public health funds, not the personal account (Q13)",
    "fitness": "体育健身 is outside basic medical insurance and may not be paid from the account (Q13)",
    "wellness": "养生保健 is outside basic medical insurance and may not be paid from the account (Q13)",
}
INTEREST_RUN = "interest"
DEATH = "death"


def pay_premium(engine: Engine, psn_no: str, kind: str, amount: int, on: date, relative_certno: str | None = None,
                payee: str = "") -> int:
    """Pay a premium from `psn_no`'s account; returns the balance after."""
    if kind in REFUSED:
        raise InputError(f"kind: {kind} is refused: {REFUSED[kind]}")
    if kind not in ALLOWED:
        raise InputError(f"kind: {kind!r} is not one of {', '.join([*ALLOWED, *REFUSED])}")
    if amount <= 0:
        raise InputError(f"amount: must be more than 0 (value: {format_yuan(amount)})")
    who, what = ALLOWED[kind]
    with transaction(engine) as conn:
        registered_person(conn, psn_no, "psn_no")
        if relative_certno is not None:
            try:
                relative_certno = check_certno(relative_certno)
            except ValueError as exc:
                raise InputError(f"relative: {exc} (value: {relative_certno!r})") from None
        if who == "relative" and relative_certno is None:
            raise InputError(f"relative: {kind} pays {what}; give the relative's ID number")
        if who == "self" and relative_certno is not None:
            raise InputError(f"relative: {kind} pays the member's own premium only")
        beneficiary = "self"
        if relative_certno is not None:
            relation = conn.execute(select(relations.c.relation).where(
                relations.c.psn_no == psn_no, relations.c.relative_certno == relative_certno)).scalar()
            if relation is None:
                raise InputError(f"relative: {relative_certno} is not registered as {psn_no}'s spouse, parent "
                                 "or child")
            beneficiary = f"{relation} {relative_certno}"
        return account_move(conn, psn_no, -amount, PREMIUM, on,
                            memo=f"{kind}: {what}; for {beneficiary}; payee {payee or '-'}")


MAX_REASON = 20
"""persons.stas_reason's length."""
MAX_HEIR = 100
"""what the ledger memo keeps of the heir's name (the memo is text, but a name is short)."""


def change_status(engine: Engine, psn_no: str, status: str, on: date, reason: str = "",
                  heir: str = "", also: Callable[[Connection, dict], None] | None = None) -> int:
    """Set psn_insu_stas. On death the balance is paid to the named heir and the account closed; returns the
    amount paid out. `also(conn, person)` runs at the end of the same transaction, given the person's row as it
    was before (the change itself it can read through `conn`)."""
    if status not in (NORMAL, PAUSED, TERMINATED):
        raise InputError(f"status: {status!r} is not 1 (normal), 2 (paused) or 4 (terminated)")
    if len(reason) > MAX_REASON:
        raise InputError(f"reason: at most {MAX_REASON} characters (value: {reason!r})",
                         f"原因最多 {MAX_REASON} 个字符（值：{reason!r}）")
    if len(heir.strip()) > MAX_HEIR:
        raise InputError(f"heir: at most {MAX_HEIR} characters (value: {heir!r})",
                         f"继承人姓名最多 {MAX_HEIR} 个字符（值：{heir!r}）")
    if reason == DEATH and status != TERMINATED:
        raise InputError("reason: death terminates the insurance (status 4)")
    if reason == DEATH and not heir.strip():
        raise InputError("heir: on death the balance goes to a named heir; give --heir")
    with transaction(engine) as conn:
        person = registered_person(conn, psn_no, "psn_no")
        closed = conn.execute(select(accounts.c.closed_on).where(accounts.c.psn_no == psn_no)).scalar()
        if closed is not None:
            raise InputError(f"psn_no: the account of {psn_no} was closed on {closed} (death)")
        if on < person["psn_insu_date"]:
            raise InputError(f"date: {on} is before the person was insured ({person['psn_insu_date']})")
        conn.execute(update(persons).where(persons.c.psn_no == psn_no)
                     .values(psn_insu_stas=status, stas_reason=reason or None, stas_date=on))
        paid = _on_death(conn, psn_no, on, heir) if reason == DEATH else 0
        if also is not None:
            also(conn, dict(person))
        return paid


def _on_death(conn: Connection, psn_no: str, on: date, heir: str) -> int:
    """The balance to the heir, the account closed, every authorization from or to it ended; the amount paid."""
    balance = conn.execute(select(accounts.c.balance).where(accounts.c.psn_no == psn_no)
                           .with_for_update()).scalar_one()
    if balance:
        account_move(conn, psn_no, -balance, INHERITANCE, on, memo=f"paid to heir {heir.strip()} (继承)")
    conn.execute(update(accounts).where(accounts.c.psn_no == psn_no).values(closed_on=on))
    conn.execute(update(authorizations).where(
        (authorizations.c.owner_psn_no == psn_no) | (authorizations.c.user_psn_no == psn_no),
        authorizations.c.revoked_at.is_(None)).values(revoked_at=now()))
    return balance


@dataclass
class InterestRun:
    admdvs: str
    on: date | None
    already: bool = False
    accounts: int = 0
    amount: int = 0
    rate: int = 0


def credit_interest(engine: Engine, book: PolicyBook, year: int, admdvs: str, today: date | None = None) -> InterestRun:
    """Credit the year's interest to every open account of the region, on the policy's day and at its rate, on
    the balance at the end of that day (from the ledger). Once per region and year."""
    probe = date(year, 12, 31)
    try:
        version = book.policy_for(admdvs, probe)
    except PolicyNotFound as exc:
        raise InputError(f"--year {year}: {exc}") from None
    if version.account_interest is None:
        raise InputError(f"--year {year}: the policy of {admdvs} ({version.title}) sets no account interest")
    on = version.account_interest.date_in(year)
    rate = version.account_interest.rate
    if today is not None and on > today:
        raise InputError(f"--year {year}: interest is due on {on}, which has not come yet")

    def credit(conn: Connection, run_id: int) -> InterestRun:
        # sum(bigint) is numeric on PostgreSQL, where // would then divide exactly: back to bigint first.
        balance_then = select(ledger.c.holder, cast(func.sum(ledger.c.amount), BigInteger).label("balance")) \
            .where(ledger.c.fund == ACCOUNT, ledger.c.occurred_on <= on).group_by(ledger.c.holder).subquery()
        interest = half_up_bp(balance_then.c.balance * rate)
        open_here = and_(persons.c.insuplc_admdvs == admdvs, accounts.c.psn_no == persons.c.psn_no,
                         accounts.c.closed_on.is_(None), balance_then.c.holder == persons.c.psn_no,
                         interest > 0)
        post_from_select(conn, select(literal(ACCOUNT), persons.c.psn_no, literal(INTEREST), interest, literal(on),
                                      literal(now()), persons.c.psn_no, literal(run_id))
                         .select_from(persons).where(open_here))
        credited = select(ledger.c.holder, ledger.c.amount).where(ledger.c.run_id == run_id,
                                                                  ledger.c.kind == INTEREST).subquery()
        conn.execute(update(accounts).where(accounts.c.psn_no == credited.c.holder)
                     .values(balance=accounts.c.balance + credited.c.amount))
        count, total = conn.execute(select(func.count(), func.coalesce(func.sum(credited.c.amount), 0))).one()
        runs.finish(conn, run_id, count, total)
        return InterestRun(admdvs, on, accounts=count, amount=int(total), rate=rate)

    return runs.once(engine, INTEREST_RUN, admdvs, on, credit) or InterestRun(admdvs, on, already=True, rate=rate)
