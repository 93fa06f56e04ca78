"""Balances and journal rows move together; nothing goes below zero."""

from datetime import date

import pytest
from sqlalchemy import func, insert, select

from gongji.errors import InputError
from gongji.store.ledger import (
    CONTRIBUTION,
    OUTPATIENT_PAY,
    account_move,
    pool_balance,
    pool_in,
    pool_out,
    pool_slot,
)
from gongji.store.tables import POOL_SLOTS, accounts, ledger, persons, pool_slots

ON = date(2024, 1, 1)


def slots(conn, admdvs="321000"):
    return dict(conn.execute(select(pool_slots.c.slot, pool_slots.c.balance)
                             .where(pool_slots.c.admdvs == admdvs)).all())


def test_pool_in_spreads_over_the_slots_and_the_ledger_follows(engine):
    with engine.begin() as conn:
        pool_in(conn, "321000", 1003, CONTRIBUTION, ON)
        # 1003 fen over 8 slots: 125 each, the 3 fen left over to slots 0, 1 and 2
        assert slots(conn) == {s: 126 if s < 3 else 125 for s in range(POOL_SLOTS)}
        assert conn.execute(select(func.sum(ledger.c.amount))).scalar_one() == 1003


def test_pool_out_takes_from_one_slot_or_from_all(engine):
    with engine.begin() as conn:
        pool_in(conn, "321000", 8000, CONTRIBUTION, ON)
        home = pool_slot("P1")
        pool_out(conn, "321000", [(OUTPATIENT_PAY, 600)], ON, key="P1")
        # 1000 per slot; the member's slot pays 600 alone
        assert slots(conn)[home] == 400
        # 3000 is more than any slot holds: the largest slots pay, together
        pool_out(conn, "321000", [(OUTPATIENT_PAY, 2000), ("inpatient_pay", 1000)], ON, key="P1")
        assert pool_balance(conn, "321000") == 8000 - 600 - 3000
        assert min(slots(conn).values()) >= 0
        paid = conn.execute(select(func.sum(ledger.c.amount)).where(ledger.c.kind == OUTPATIENT_PAY)).scalar_one()
        assert paid == -2600


def test_the_pool_refuses_what_it_does_not_hold(engine):
    with engine.begin() as conn:
        pool_in(conn, "321000", 100, CONTRIBUTION, ON)
    with pytest.raises(InputError, match="holds 1.00 yuan, less than the 1.01 yuan"):
        with engine.begin() as conn:
            pool_out(conn, "321000", [(OUTPATIENT_PAY, 101)], ON, key="P1")
    with engine.connect() as conn:
        assert pool_balance(conn, "321000") == 100


def test_an_account_never_goes_below_zero(engine):
    with engine.begin() as conn:
        conn.execute(insert(persons).values(psn_no="P1", psn_name="x", certno="110105194912310029", gend="2",
                                            brdy=date(1949, 12, 31), insutype="310", psn_type="12",
                                            insuplc_admdvs="321000", emp_name="", psn_insu_stas="1",
                                            psn_insu_date=date(2000, 1, 1)))
        conn.execute(insert(accounts).values(psn_no="P1", balance=0))
        assert account_move(conn, "P1", 500, "opening", ON) == 500
    with pytest.raises(InputError, match="holds 5.00 yuan, less than 5.01 yuan"):
        with engine.begin() as conn:
            account_move(conn, "P1", -501, "acct_pay", ON)
    with engine.begin() as conn:
        assert account_move(conn, "P1", -500, "acct_pay", ON) == 0
        assert conn.execute(select(func.sum(ledger.c.amount)).where(ledger.c.holder == "P1")).scalar_one() == 0
