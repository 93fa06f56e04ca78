"""The personal account's other uses against a real database, on SQLite and PostgreSQL (SPEC.md §4).

Premiums: the resident-insurance premium of a registered spouse, parent or child; the member's own supplementary
premium; never public health, fitness or wellness (Yangzhou Q13). Death: the balance goes to the named heir and
the account closes. Interest: Yangzhou's placeholder rate of 0.35 % on 31 December (321000.yaml), on the balance
at the end of that day, half-up to the fen.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import select

from gongji.errors import InputError
from gongji.services import family
from gongji.services.account_use import change_status, credit_interest, pay_premium
from gongji.services.crediting import deposit
from gongji.services.imports import import_csv
from gongji.services.settlement import parse_settle, settle
from gongji.store.db import open_engine
from gongji.store.ledger import ACCOUNT, INHERITANCE, INTEREST, PREMIUM
from gongji.store.tables import accounts, authorizations, ledger, persons
from tests.factories import (
    RELATION_COLUMNS,
    assert_clean,
    csv_bytes,
    fen,
    institution,
    institutions_csv,
    person,
    persons_csv,
    snapshot,
)

REGION = "321000"
H1 = "H32100000001"
SPOUSE = person("X", date(1972, 8, 8), gend="2", serial=7)["certno"]
"""A1's spouse (resident insurance, not insured here)."""
STRANGER = person("X", date(1973, 9, 9), gend="2", serial=8)["certno"]
"""a valid ID number that is nobody's relative."""


def setup(engine, book, rows: list[dict], relations: list[tuple[str, str, str]] = ()) -> None:
    """`rows`, then `relations` as (psn_no, relative's ID number, relation)."""
    import_csv(engine, "persons", persons_csv(rows), book)
    if relations:
        rows = [{"psn_no": p, "relative_certno": c, "relative_name": "亲属", "relation": r} for p, c, r in relations]
        import_csv(engine, "relations", csv_bytes(RELATION_COLUMNS, rows), book)


def member(psn_no: str, balc: str, **extra) -> dict:
    return person(psn_no, date(1970, 5, 20), balc=balc, serial=int(psn_no[1:]) + 10 * (ord(psn_no[0]) - 64),
                  **extra)


def balance(engine, psn_no: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(accounts.c.balance).where(accounts.c.psn_no == psn_no)).scalar_one()


def moves(engine, psn_no: str, kind: str) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(select(ledger.c.amount, ledger.c.occurred_on, ledger.c.memo).where(
            ledger.c.fund == ACCOUNT, ledger.c.holder == psn_no, ledger.c.kind == kind).order_by(ledger.c.id)).all()


# --- premiums -------------------------------------------------------------------------------------------------

def test_premiums_the_account_may_pay(engine, book):
    setup(engine, book, [member("A1", "1000.00")], [("A1", SPOUSE, "配偶")])
    after = pay_premium(engine, "A1", "resident", fen("380.00"), date(2024, 3, 1), relative_certno=SPOUSE,
                        payee="城乡居民医保")
    assert after == fen("620.00") == balance(engine, "A1")  # 1000.00 - 380.00
    assert pay_premium(engine, "A1", "supplementary", fen("120.00"), date(2024, 3, 2)) == fen("500.00")  # - 120.00
    assert pay_premium(engine, "A1", "commercial", fen("99.00"), date(2024, 3, 3), relative_certno=SPOUSE) \
        == fen("401.00")  # 500.00 - 99.00
    paid = moves(engine, "A1", PREMIUM)
    assert [amount for amount, _on, _memo in paid] == [-fen("380.00"), -fen("120.00"), -fen("99.00")]
    assert "resident" in paid[0].memo and f"spouse {SPOUSE}" in paid[0].memo and "城乡居民医保" in paid[0].memo
    assert "for self" in paid[1].memo
    assert_clean(engine)


REFUSED = {
    # kind, relative, amount, what the message says
    "stranger": ("resident", STRANGER, "10.00", f"{STRANGER} is not registered as A1's spouse"),
    "no-relative": ("resident", None, "10.00", "give the relative's ID number"),
    "supplementary-for-relative": ("supplementary", SPOUSE, "10.00", "the member's own premium only"),
    "public_health": ("public_health", None, "10.00", "公共卫生费用 is paid by public health funds"),
    "fitness": ("fitness", None, "10.00", "体育健身 is outside basic medical insurance"),
    "wellness": ("wellness", None, "10.00", "养生保健 is outside basic medical insurance"),
    "over-balance": ("resident", SPOUSE, "1000.01", "holds 1000.00 yuan, less than 1000.01 yuan"),
    "zero": ("resident", SPOUSE, "0.00", "amount: must be more than 0"),
    "bad-certno": ("resident", SPOUSE[:-1] + ("0" if SPOUSE[-1] != "0" else "1"), "10.00", "relative: "),
}


@pytest.mark.parametrize("case", REFUSED)
def test_premiums_refused_change_nothing(engine, book, case):
    kind, relative, amount, says = REFUSED[case]
    setup(engine, book, [member("A1", "1000.00")], [("A1", SPOUSE, "spouse")])
    before = snapshot(engine)
    with pytest.raises(InputError) as refused:
        pay_premium(engine, "A1", kind, fen(amount), date(2024, 3, 1), relative_certno=relative)
    assert says in str(refused.value)
    if kind in ("public_health", "fitness", "wellness"):
        assert f"kind: {kind} is refused" in str(refused.value) and "Q13" in str(refused.value)
    assert snapshot(engine) == before
    assert balance(engine, "A1") == fen("1000.00")
    assert_clean(engine)


# --- death ----------------------------------------------------------------------------------------------------

def test_death_pays_the_heir_closes_the_account_and_revokes_authorizations(engine, book):
    import_csv(engine, "institutions", institutions_csv([institution(H1, 1)]), book)
    child = person("B1", date(1998, 2, 2), balc="0", serial=21)
    setup(engine, book, [member("A1", "1000.00"), child], [("A1", child["certno"], "子女")])
    deposit(engine, REGION, fen("10000.00"), date(2024, 1, 1))
    family.authorize(engine, "A1", "B1")
    family.authorize(engine, "B1", "A1")
    died = date(2024, 5, 10)

    assert change_status(engine, "A1", "4", died, reason="death", heir="王五") == fen("1000.00")
    assert balance(engine, "A1") == 0
    [(amount, on, memo)] = moves(engine, "A1", INHERITANCE)
    assert (amount, on) == (-fen("1000.00"), died) and "王五" in memo  # the whole balance, as a movement
    with engine.connect() as conn:
        assert conn.execute(select(accounts.c.closed_on).where(accounts.c.psn_no == "A1")).scalar_one() == died
        stas = conn.execute(select(persons.c.psn_insu_stas, persons.c.stas_reason, persons.c.stas_date)
                            .where(persons.c.psn_no == "A1")).one()
        assert tuple(stas) == ("4", "death", died)
        revoked = conn.execute(select(authorizations.c.revoked_at)).scalars().all()
        assert len(revoked) == 2 and all(at is not None for at in revoked)

    def visit(psn_no: str):
        return settle(engine, book, parse_settle({"psn_no": psn_no, "fixmedins_code": H1, "date": "2024-05-20",
                                                 "covered": "100.00", "acct_used_flag": "1"})).row

    own = visit("A1")  # terminated: no pooled fund; closed account: nothing from it, all 100.00 in cash
    assert (own["hifp_pay"], own["acct_pay"], own["psn_cash_pay"]) == (0, 0, fen("100.00"))
    relative = visit("B1")  # under Yangzhou's 600.00 deductible, own balance 0, A1's account no longer authorized
    assert (relative["hifp_pay"], relative["acct_pay"], relative["acct_mulaid_pay"], relative["psn_cash_pay"]) \
        == (0, 0, 0, fen("100.00"))
    before = snapshot(engine)
    with pytest.raises(InputError, match="closed on 2024-05-10"):
        change_status(engine, "A1", "4", died, reason="death", heir="王五")
    with pytest.raises(InputError, match="closed on 2024-05-10"):
        pay_premium(engine, "A1", "supplementary", fen("1.00"), date(2024, 6, 1))
    assert snapshot(engine) == before
    assert_clean(engine)


@pytest.mark.parametrize(("status", "heir", "says"), [("4", " ", "heir: on death the balance goes to a named heir"),
                                                      ("2", "王五", "death terminates the insurance"),
                                                      ("4", "王" * 101, "heir: at most 100 characters")])
def test_death_refused_without_heir_or_termination(engine, book, status, heir, says):
    setup(engine, book, [member("A1", "1000.00")])
    before = snapshot(engine)
    with pytest.raises(InputError, match=says):
        change_status(engine, "A1", status, date(2024, 5, 10), reason="death", heir=heir)
    assert snapshot(engine) == before
    assert_clean(engine)


def test_a_reason_longer_than_its_column_is_refused(engine, book):
    setup(engine, book, [member("A1", "1000.00")])
    before = snapshot(engine)
    with pytest.raises(InputError, match="reason: at most 20 characters"):
        change_status(engine, "A1", "2", date(2024, 5, 10), reason="停保" * 11)  # 22 characters
    assert snapshot(engine) == before


# --- interest -------------------------------------------------------------------------------------------------

def test_interest_on_the_balance_at_the_end_of_31_december_once(engine, book):
    setup(engine, book, [
        member("A1", "1000.00"), member("B1", "10.00"), member("C1", "1234.56"), member("D1", "500.00"),
        member("E1", "1000.00", region="530000"), member("F1", "0"),
        member("G1", "300.00", psn_insu_date="2025-01-01"),
    ], [("A1", SPOUSE, "spouse")])
    pay_premium(engine, "A1", "resident", fen("200.00"), date(2024, 12, 31), relative_certno=SPOUSE)  # counts
    pay_premium(engine, "A1", "resident", fen("100.00"), date(2025, 1, 2), relative_certno=SPOUSE)  # too late
    change_status(engine, "D1", "4", date(2024, 6, 30), reason="death", heir="赵六")
    with pytest.raises(InputError, match="not come yet"):
        credit_interest(engine, book, 2024, REGION, today=date(2024, 12, 30))

    run = credit_interest(engine, book, 2024, REGION, today=date(2025, 1, 5))
    # A1: 1000.00 - 200.00 = 800.00 at the end of 2024-12-31; 800.00 x 0.35 % = 2.80
    # B1: 10.00 x 0.35 % = 0.035 yuan = 3.5 fen, half-up 4 fen = 0.04
    # C1: 1234.56 x 0.35 % = 4.32096, 4.32
    # D1 closed on death, E1 in Yunnan, F1 and G1 (opened 2025-01-01) hold 0.00 at the end of 2024-12-31: nothing
    assert (run.on, run.rate, run.already) == (date(2024, 12, 31), 35, False)
    assert (run.accounts, run.amount) == (3, fen("7.16"))  # 2.80 + 0.04 + 4.32
    assert [(a, on) for a, on, _m in moves(engine, "A1", INTEREST)] == [(fen("2.80"), date(2024, 12, 31))]
    assert balance(engine, "A1") == fen("702.80")  # 1000.00 - 200.00 - 100.00 + 2.80
    assert balance(engine, "B1") == fen("10.04")
    assert balance(engine, "C1") == fen("1238.88")  # 1234.56 + 4.32
    for psn_no, held in (("D1", "0"), ("E1", "1000.00"), ("F1", "0"), ("G1", "300.00")):
        assert balance(engine, psn_no) == fen(held) and moves(engine, psn_no, INTEREST) == []

    before = snapshot(engine)
    again = credit_interest(engine, book, 2024, REGION)
    assert again.already and again.accounts == 0 and again.amount == 0
    assert snapshot(engine) == before
    assert_clean(engine)


def test_two_interest_runs_at_the_same_time_credit_once(db_url, engine, book):
    setup(engine, book, [member("A1", "1000.00")])
    start = threading.Barrier(2)

    def run(_i):
        own = open_engine(db_url)
        try:
            start.wait()
            return credit_interest(own, book, 2024, "321000")
        finally:
            own.dispose()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, range(2)))
    assert sorted(r.already for r in results) == [False, True]
    # 1000.00 x 0.35 % = 3.50, once
    assert balance(engine, "A1") == fen("1003.50")
    assert_clean(engine)
