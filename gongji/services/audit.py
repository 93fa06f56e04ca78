"""`gongji audit`: every balance recomputed from the ledger, every settlement's parts checked, and the
totals per region (contributions in, account credits, outpatient fund payments, chronic and special disease
payments (门诊慢特病), account payments, money clawed back for confirmed monitoring hits (追回))."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, case, func, select

from gongji.money import format_yuan
from gongji.store.ledger import (
    ACCOUNT,
    ACCOUNT_PAY,
    CHRONIC_PAY,
    CLAWBACK,
    CONTRIBUTION,
    CREDIT_EMPLOYER,
    CREDIT_INDIVIDUAL,
    CREDIT_POOL,
    DEPOSIT,
    INHERITANCE,
    INPATIENT_PAY,
    INTEREST,
    MULAID_PAY,
    OPENING,
    OUTPATIENT_PAY,
    POOL,
    PREMIUM,
    REVERSAL_SUFFIX,
)
from gongji.store.tables import accounts, ledger, persons, pool_slots, settlements

TOTALS = {
    "contributions_in": (POOL, [CONTRIBUTION], 1),
    "deposits_in": (POOL, [DEPOSIT], 1),
    "clawed_back_in": (POOL, [CLAWBACK], 1),
    "credits_individual": (ACCOUNT, [CREDIT_INDIVIDUAL], 1),
    "credits_employer": (ACCOUNT, [CREDIT_EMPLOYER], 1),
    "credits_from_pool": (ACCOUNT, [CREDIT_POOL], 1),
    "outpatient_fund_paid": (POOL, [OUTPATIENT_PAY], -1),
    "inpatient_benefit_paid": (POOL, [INPATIENT_PAY], -1),
    "chronic_benefit_paid": (POOL, [CHRONIC_PAY], -1),
    "account_paid_own": (ACCOUNT, [ACCOUNT_PAY], -1),
    "account_paid_family": (ACCOUNT, [MULAID_PAY], -1),
    "premiums_paid": (ACCOUNT, [PREMIUM], -1),
    "interest_credited": (ACCOUNT, [INTEREST], 1),
    "inherited": (ACCOUNT, [INHERITANCE], -1),
    "opening_balances": (ACCOUNT, [OPENING], 1),
}
"""name -> (fund, kinds, sign): each total counts its kinds net of their reversals."""


@dataclass
class AuditReport:
    differences: list[str] = field(default_factory=list)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    """admdvs -> total name -> fen, plus pool_balance and account_balances."""
    checked_accounts: int = 0
    checked_settlements: int = 0

    @property
    def clean(self) -> bool:
        return not self.differences


def audit(engine: Engine) -> AuditReport:
    report = AuditReport()
    with engine.connect() as conn:
        journal = select(ledger.c.holder, func.sum(ledger.c.amount).label("total")) \
            .where(ledger.c.fund == ACCOUNT).group_by(ledger.c.holder).subquery()
        for psn_no, balance, total in conn.execute(
                select(accounts.c.psn_no, accounts.c.balance, func.coalesce(journal.c.total, 0))
                .outerjoin(journal, journal.c.holder == accounts.c.psn_no)
                .where(accounts.c.balance != func.coalesce(journal.c.total, 0))):
            report.differences.append(f"account {psn_no}: balance {format_yuan(balance)}, "
                                      f"ledger {format_yuan(int(total))}")
        report.checked_accounts = conn.execute(select(func.count()).select_from(accounts)).scalar_one()
        slots = select(ledger.c.holder, ledger.c.slot, func.sum(ledger.c.amount).label("total")) \
            .where(ledger.c.fund == POOL).group_by(ledger.c.holder, ledger.c.slot).subquery()
        for admdvs, slot, balance, total in conn.execute(
                select(pool_slots.c.admdvs, pool_slots.c.slot, pool_slots.c.balance,
                       func.coalesce(slots.c.total, 0))
                .outerjoin(slots, (slots.c.holder == pool_slots.c.admdvs) & (slots.c.slot == pool_slots.c.slot))
                .where(pool_slots.c.balance != func.coalesce(slots.c.total, 0))):
            report.differences.append(f"pool {admdvs} slot {slot}: balance {format_yuan(balance)}, "
                                      f"ledger {format_yuan(int(total))}")
        s = settlements.c
        broken = conn.execute(select(s.setl_id).where(
            (s.medfee_sumamt != s.fulamt_ownpay_amt + s.overlmt_selfpay + s.preselfpay_amt + s.inscp_scp_amt)
            | (s.medfee_sumamt != s.hifp_pay + s.inpatient_pay + s.chronic_pay + s.psn_part_amt)
            | (s.psn_part_amt != s.acct_pay + s.psn_cash_pay))).scalars().all()
        report.differences += [f"settlement {x}: its parts do not add up" for x in broken]
        report.checked_settlements = conn.execute(select(func.count()).select_from(settlements)).scalar_one()
        _against_ledger(conn, report)
        _totals(conn, report)
    return report


def _against_ledger(conn, report: AuditReport) -> None:
    """What the settlements say was paid equals what the ledger moved, fund by fund."""
    s = settlements.c
    compared = {"hifp_pay": (s.hifp_pay, OUTPATIENT_PAY), "inpatient_pay": (s.inpatient_pay, INPATIENT_PAY),
                "chronic_pay": (s.chronic_pay, CHRONIC_PAY),
                "acct_pay (own)": (s.acct_pay - s.acct_mulaid_pay, ACCOUNT_PAY),
                "acct_mulaid_pay": (s.acct_mulaid_pay, MULAID_PAY)}
    said = conn.execute(select(*(func.coalesce(func.sum(column), 0) for column, _kind in compared.values()))).one()
    moved = []
    for _column, kind in compared.values():
        moved.append(-conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0)).where(
            ledger.c.kind.in_([kind, kind + REVERSAL_SUFFIX]), ledger.c.setl_id.is_not(None))).scalar_one())
    for name, a, b in zip(compared, map(int, said), map(int, moved), strict=True):
        if a != b:
            report.differences.append(f"settlements' {name} {format_yuan(a)} != ledger {format_yuan(b)}")


def _totals(conn, report: AuditReport) -> None:
    region = case((ledger.c.fund == POOL, ledger.c.holder), else_=persons.c.insuplc_admdvs)
    rows = conn.execute(select(region, ledger.c.fund, ledger.c.kind, func.sum(ledger.c.amount))
                        .select_from(ledger.outerjoin(persons, (ledger.c.fund == ACCOUNT)
                                                      & (persons.c.psn_no == ledger.c.holder)))
                        .group_by(region, ledger.c.fund, ledger.c.kind)).all()

    def of(admdvs: str) -> dict[str, int]:
        return report.totals.setdefault(admdvs, dict.fromkeys(TOTALS, 0))

    for admdvs, fund, kind, amount in rows:
        totals = of(admdvs)
        base = kind.removesuffix(REVERSAL_SUFFIX)
        for name, (f, kinds, sign) in TOTALS.items():
            if f == fund and base in kinds:
                totals[name] += sign * int(amount)
    for admdvs, balance in conn.execute(select(pool_slots.c.admdvs, func.sum(pool_slots.c.balance))
                                        .group_by(pool_slots.c.admdvs)):
        of(admdvs)["pool_balance"] = int(balance)
    for admdvs, balance in conn.execute(select(persons.c.insuplc_admdvs, func.sum(accounts.c.balance))
                                        .join(accounts, accounts.c.psn_no == persons.c.psn_no)
                                        .group_by(persons.c.insuplc_admdvs)):
        of(admdvs)["account_balances"] = int(balance)
