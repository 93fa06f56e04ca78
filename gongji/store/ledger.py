"""The journal (账务流水) and the balances it moves, always together in the caller's transaction.

A personal account (个人账户) is one row; a region's pooled fund (统筹基金) is `POOL_SLOTS` rows whose sum is
its balance. Neither may go below zero: a debit that would is refused (`Insufficient`) and the caller's
transaction rolls back. Every change of a balance is a ledger row with the same amount, so `audit` can
recompute every balance from the journal alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import cache

from sqlalchemy import Connection, bindparam, func, insert, select, update

from gongji.errors import InputError
from gongji.money import format_yuan
from gongji.store.tables import POOL_SLOTS, accounts, ledger, pool_slots

ACCOUNT, POOL = "account", "pool"

# Kinds of movement. Account side:
OPENING = "opening"
"""opening balance carried over from the system before gongji."""
CREDIT_INDIVIDUAL = "credit_individual"
"""monthly credit from the member's own contribution."""
CREDIT_EMPLOYER = "credit_employer"
"""monthly credit from the employer's contribution (before the reform)."""
CREDIT_POOL = "credit_pool"
"""monthly credit of a retiree, paid by the pooled fund (both sides)."""
ACCOUNT_PAY = "acct_pay"
"""the account pays its owner's share of a settlement."""
MULAID_PAY = "acct_mulaid_pay"
"""the account pays an authorized relative's share (家庭共济)."""
PREMIUM = "premium"
INHERITANCE = "inheritance"
INTEREST = "interest"
# Pool side:
CONTRIBUTION = "contribution"
"""employer and individual contributions not credited to accounts."""
DEPOSIT = "deposit"
"""money put into the pool from outside gongji (the reserve carried over, a subsidy)."""
OUTPATIENT_PAY = "hifp_pay"
"""ordinary outpatient pooling payment of a settlement."""
INPATIENT_PAY = "inpatient_pay"
"""payment under the inpatient benefit of outpatient cost above the cap."""
CHRONIC_PAY = "chronic_pay"
"""payment under a chronic or special disease's benefit (门诊慢特病)."""
CLAWBACK = "clawback"
"""money an institution returns to the pool for a confirmed monitoring hit (追回, gongji.services.monitor_queue),
tied to the settlement (setl_id) and the hit (memo); not a reversal of the settlement's payment."""
REVERSAL_SUFFIX = "_reversal"


class Insufficient(InputError):
    """A debit larger than the balance; the message names the fund and both amounts."""


def pool_slot(key: str) -> int:
    """The slot a person's movements use first, stable across processes."""
    return zlib.crc32(key.encode()) % POOL_SLOTS


def now() -> datetime:
    return datetime.now().replace(microsecond=0)


def row(fund: str, holder: str, kind: str, amount: int, on: date, **refs: object) -> dict:
    return {"fund": fund, "holder": holder, "kind": kind, "amount": amount, "occurred_on": on,
            "recorded_at": now(), "slot": refs.get("slot"), "psn_no": refs.get("psn_no"),
            "setl_id": refs.get("setl_id"), "run_id": refs.get("run_id"), "memo": refs.get("memo")}


_INSERT_LEDGER = insert(ledger)
_SLOT_KEY = (pool_slots.c.admdvs == bindparam("b_admdvs")) & (pool_slots.c.slot == bindparam("b_slot"))
_SLOT_ADD = update(pool_slots).where(_SLOT_KEY).values(balance=pool_slots.c.balance + bindparam("b_amount"))
_SLOT_TAKE = update(pool_slots).where(_SLOT_KEY, pool_slots.c.balance >= bindparam("b_amount")) \
    .values(balance=pool_slots.c.balance - bindparam("b_amount"))
_OPEN_ACCOUNT = (accounts.c.psn_no == bindparam("b_holder")) & accounts.c.closed_on.is_(None)
_ACCOUNT_ADD = update(accounts).where(_OPEN_ACCOUNT).values(balance=accounts.c.balance + bindparam("b_amount")) \
    .returning(accounts.c.balance)
_ACCOUNT_TAKE = update(accounts).where(_OPEN_ACCOUNT, accounts.c.balance >= -bindparam("b_amount")) \
    .values(balance=accounts.c.balance + bindparam("b_amount")).returning(accounts.c.balance)


def post(conn: Connection, rows: Iterable[Mapping]) -> None:
    rows = list(rows)
    if rows:
        conn.execute(_INSERT_LEDGER, rows)


BATCH_COLUMNS = ("fund", "holder", "kind", "amount", "occurred_on", "recorded_at", "psn_no", "run_id")


def post_from_select(conn: Connection, rows) -> None:
    """A batch's ledger rows in one statement: `rows` selects the columns of BATCH_COLUMNS, in that order."""
    conn.execute(insert(ledger).from_select(list(BATCH_COLUMNS), rows))


@cache
def _insert_ignoring(dialect: str, table, keys: tuple[str, ...], returning: tuple = ()):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return stmt.returning(*returning) if returning else stmt


def insert_ignoring(conn: Connection, table, rows: list[dict], keys: list[str]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike."""
    if rows:
        conn.execute(_insert_ignoring(conn.dialect.name, table, tuple(keys)), rows)


def insert_if_new(conn: Connection, table, row: dict, keys: list[str], returning) -> object | None:
    """Insert `row` unless its key is taken; `returning` (a column) of the new row, None when it was not new.
    (A conflicting INSERT's rowcount is not reliable across drivers; RETURNING is.)"""
    return conn.execute(_insert_ignoring(conn.dialect.name, table, tuple(keys), (returning,)), row).scalar()


def ensure_pool(conn: Connection, admdvs: str) -> None:
    insert_ignoring(conn, pool_slots, [{"admdvs": admdvs, "slot": s, "balance": 0} for s in range(POOL_SLOTS)],
                    ["admdvs", "slot"])


def pool_balance(conn: Connection, admdvs: str) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(pool_slots.c.balance), 0))
                            .where(pool_slots.c.admdvs == admdvs)).scalar_one())


def pool_in(conn: Connection, admdvs: str, amount: int, kind: str, on: date, **refs: object) -> None:
    """Add `amount` to the region's pool, spread evenly over its slots."""
    if amount == 0:
        return
    if amount < 0:
        raise ValueError("pool_in takes a positive amount")
    ensure_pool(conn, admdvs)
    share, rest = divmod(amount, POOL_SLOTS)
    parts = [(s, share + (1 if s < rest else 0)) for s in range(POOL_SLOTS)]
    for slot, part in parts:
        if part:
            conn.execute(_SLOT_ADD, {"b_admdvs": admdvs, "b_slot": slot, "b_amount": part})
    post(conn, [row(POOL, admdvs, kind, part, on, slot=slot, **refs) for slot, part in parts if part])


def pool_out(conn: Connection, admdvs: str, parts: list[tuple[str, int]], on: date, key: str = "",
             journal: list[dict] | None = None, **refs: object) -> None:
    """Take the (kind, amount) parts from the region's pool: from the slot of `key` when it holds them all (one
    row locked), else from all slots, locked in order, largest first. Ledger rows go to `journal` when given
    (the caller posts them), else straight to the ledger."""
    parts = [(kind, amount) for kind, amount in parts if amount]
    if any(amount < 0 for _kind, amount in parts):
        raise ValueError("pool_out takes positive amounts")
    total = sum(amount for _kind, amount in parts)
    if not total:
        return
    first = pool_slot(key)
    if conn.execute(_SLOT_TAKE, {"b_admdvs": admdvs, "b_slot": first, "b_amount": total}).rowcount == 1:
        taken = [(first, total)]
    else:
        taken = _take_from_all(conn, admdvs, total, "/".join(kind for kind, _a in parts))
    rows = []
    for kind, amount in parts:
        while amount:
            slot, available = taken[0]
            part = min(amount, available)
            rows.append(row(POOL, admdvs, kind, -part, on, slot=slot, **refs))
            amount -= part
            taken[0] = (slot, available - part)
            if taken[0][1] == 0:
                taken.pop(0)
    if journal is None:
        post(conn, rows)
    else:
        journal.extend(rows)


def _take_from_all(conn: Connection, admdvs: str, total: int, what: str) -> list[tuple[int, int]]:
    slots = conn.execute(select(pool_slots.c.slot, pool_slots.c.balance).where(pool_slots.c.admdvs == admdvs)
                         .order_by(pool_slots.c.slot).with_for_update()).all()
    held = sum(balance for _slot, balance in slots)
    if held < total:
        raise Insufficient(f"the pooled fund of {admdvs} holds {format_yuan(held)} yuan, "
                           f"less than the {format_yuan(total)} yuan to pay ({what})")
    taken, left = [], total
    for slot, balance in sorted(slots, key=lambda s: -s[1]):
        part = min(left, balance)
        if part:
            conn.execute(_SLOT_ADD, {"b_admdvs": admdvs, "b_slot": slot, "b_amount": -part})
            taken.append((slot, part))
            left -= part
        if not left:
            break
    return taken


def account_move(conn: Connection, holder: str, amount: int, kind: str, on: date,
                 journal: list[dict] | None = None, **refs: object) -> int:
    """Add `amount` (negative: take) to an open account; returns the balance after. Taking more than the
    balance raises `Insufficient`. The ledger row goes to `journal` when given, else straight to the ledger."""
    after = conn.execute(_ACCOUNT_TAKE if amount < 0 else _ACCOUNT_ADD,
                         {"b_holder": holder, "b_amount": amount}).scalar_one_or_none()
    if after is None:
        balance = conn.execute(select(accounts.c.balance, accounts.c.closed_on)
                               .where(accounts.c.psn_no == holder)).one_or_none()
        if balance is None:
            raise Insufficient(f"psn_no {holder} has no account")
        if balance.closed_on is not None:
            raise Insufficient(f"the account of {holder} was closed on {balance.closed_on}")
        raise Insufficient(f"the account of {holder} holds {format_yuan(balance.balance)} yuan, "
                           f"less than {format_yuan(-amount)} yuan")
    refs.setdefault("psn_no", holder)
    entry = row(ACCOUNT, holder, kind, amount, on, **refs)
    if journal is None:
        post(conn, [entry])
    else:
        journal.append(entry)
    return after
