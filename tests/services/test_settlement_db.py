"""Settlement against a real database, on SQLite and PostgreSQL: the amounts of Yangzhou's rules worked by hand,
idempotency, family mutual aid, concurrency, a process killed mid-transaction, reversal, and the cases where
the pooled fund pays nothing.

Yangzhou (321000) from 2024 (gongji/policy/regions/321000.yaml, SPEC.md §3): annual deductible 600 in service /
500 retired, accumulated over the year across levels; ratios 70/65/60 % in service, 80/75/70 % retired at
levels 1/2/3; cap 7000/8000 yuan of pool payment a year.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from gongji.errors import InputError
from gongji.services import family, stays
from gongji.services.crediting import deposit
from gongji.services.imports import import_csv
from gongji.services.settlement import Settlement, parse_settle, reverse, setlinfo, settle
from gongji.store.db import open_engine
from gongji.store.ledger import ACCOUNT, MULAID_PAY, POOL, pool_balance
from gongji.store.tables import accounts, accumulators, ledger, settlements
from tests.factories import (
    RELATION_COLUMNS,
    assert_clean,
    csv_bytes,
    fen,
    institution,
    institutions_csv,
    person,
    persons_csv,
    prescribe,
)

REGION = "321000"
DAY = date(2024, 3, 1)
H1, H2, H3 = "H32100000001", "H32100000002", "H32100000003"
"""medical institutions of level 1, 2 and 3."""
P_POOLED, P_NOT_POOLED = "P32100000011", "P32100000012"
"""a pharmacy admitted to outpatient pooling (otp_pool_flag 1) and one that is not (otp_pool_flag 0)."""
POOL_START = "100000.00"


def setup(engine, book, people: list[dict], relations: list[tuple[str, str, str]] = ()) -> None:
    """The institutions, `people`, `relations` (psn_no, relative's psn_no, relation) and a pool of POOL_START."""
    import_csv(engine, "institutions", institutions_csv([
        institution(H1, 1), institution(H2, 2), institution(H3, 3),
        institution(P_POOLED, None, otp_pool_flag="1"), institution(P_NOT_POOLED, None, otp_pool_flag="0"),
    ]), book)
    import_csv(engine, "persons", persons_csv(people), book)
    if relations:
        certs = {p["psn_no"]: p["certno"] for p in people}
        rows = [{"psn_no": owner, "relative_certno": certs[relative], "relative_name": f"测试{relative}",
                 "relation": relation} for owner, relative, relation in relations]
        import_csv(engine, "relations", csv_bytes(RELATION_COLUMNS, rows), book)
    deposit(engine, REGION, fen(POOL_START), date(2024, 1, 1))


def visit(engine, book, psn_no: str, covered: str, on: date = DAY, code: str = H1, **extra) -> Settlement:
    return settle(engine, book, parse_settle(
        {"psn_no": psn_no, "fixmedins_code": code, "date": on.isoformat(), "covered": covered, **extra}))


def balance(engine, psn_no: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sql_select(accounts.c.balance).where(accounts.c.psn_no == psn_no)).scalar_one()


def pool(engine) -> int:
    with engine.connect() as conn:
        return pool_balance(conn, REGION)


def accumulated(engine, psn_no: str, year: int = 2024) -> tuple[int, int, int, int]:
    """(deductible, pool, covered, inpatient) of the `accumulators` table, (0, 0, 0, 0) without a row."""
    with engine.connect() as conn:
        found = conn.execute(sql_select(accumulators.c.deductible, accumulators.c.pool, accumulators.c.covered,
                                        accumulators.c.inpatient)
                             .where(accumulators.c.psn_no == psn_no, accumulators.c.year == year)).first()
    return tuple(found) if found else (0, 0, 0, 0)


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sql_select(func.count()).select_from(table)).scalar_one()


def assert_parts_add_up(s: Settlement) -> None:
    info = setlinfo(s)
    assert info["medfee_sumamt"] == info["fund_pay_sumamt"] + info["psn_part_amt"] + info["hosp_part_amt"]
    assert info["psn_part_amt"] == info["acct_pay"] + info["psn_cash_pay"]


def amounts(s: Settlement) -> dict[str, int]:
    """What the pooled fund made of a visit (not where the member's share came from)."""
    return {k: s.row[k] for k in ("inscp_scp_amt", "act_pay_dedc", "hifp_pay", "pool_prop", "over_cap_amt",
                                   "psn_part_amt")}


# 1 ----------------------------------------------------------------------------------------------------------


def test_basic_settlement_amounts_and_identities(engine, book):
    setup(engine, book, [person("R1", date(1955, 5, 1), psn_type="12", pension="3000.00", balc="300.00")])
    pool_before = pool(engine)

    s = visit(engine, book, "R1", "800.00", code=H1)
    # retiree, level 1: covered 800 - deductible 500 = 300 x 80 % = 240.00 yuan from the pool
    assert s.row["act_pay_dedc"] == fen("500.00")
    assert s.row["hifp_pay"] == fen("240.00")
    assert s.row["pool_prop"] == 8000
    # the member's share 800 - 240 = 560.00; the account holds 300.00 and pays it all; cash 560 - 300 = 260.00
    assert s.row["psn_part_amt"] == fen("560.00")
    assert s.row["acct_pay"] == fen("300.00")
    assert s.row["acct_mulaid_pay"] == 0
    assert s.row["psn_cash_pay"] == fen("260.00")
    assert s.row["balc"] == 0  # 300.00 - 300.00
    assert s.row["pooled"] and s.row["no_pool_reason"] is None
    assert_parts_add_up(s)
    info = setlinfo(s)
    assert info["fund_pay_sumamt"] == fen("240.00") and info["medfee_sumamt"] == fen("800.00")
    assert info["hosp_lv"] == 1 and info["psn_type"] == "12"

    s2 = visit(engine, book, "R1", "200.00", code=H3)
    # the deductible accumulates across levels and is used up: level 3, 200 x 70 % = 140.00 yuan;
    # share 200 - 140 = 60.00, all cash (the account is empty)
    assert s2.row["act_pay_dedc"] == 0
    assert s2.row["hifp_pay"] == fen("140.00")
    assert s2.row["pool_prop"] == 7000
    assert (s2.row["acct_pay"], s2.row["psn_cash_pay"], s2.row["balc"]) == (0, fen("60.00"), 0)
    assert_parts_add_up(s2)

    # accumulators: deductible 500.00, pool 240 + 140 = 380.00, covered 800 + 200 = 1000.00
    assert accumulated(engine, "R1") == (fen("500.00"), fen("380.00"), fen("1000.00"), 0)
    assert balance(engine, "R1") == 0
    assert pool(engine) == pool_before - fen("380.00")
    with engine.connect() as conn:
        moved = dict(conn.execute(sql_select(ledger.c.fund, func.sum(ledger.c.amount))
                                  .where(ledger.c.setl_id == s.row["setl_id"]).group_by(ledger.c.fund)).all())
    assert moved == {ACCOUNT: -fen("300.00"), POOL: -fen("240.00")}
    assert_clean(engine)


# 2 ----------------------------------------------------------------------------------------------------------


def test_same_key_twice_moves_no_money(engine, book):
    setup(engine, book, [person("P1", date(1980, 1, 1), balc="1000.00"),
                         person("P2", date(1981, 1, 1), balc="1000.00")])
    first = visit(engine, book, "P1", "800.00", key="K-1")
    # in service, level 1: 800 - 600 = 200 x 70 % = 140.00 yuan; share 660.00 from the account, balance 340.00
    assert (first.row["hifp_pay"], first.row["acct_pay"], first.row["balc"]) == (
        fen("140.00"), fen("660.00"), fen("340.00"))
    assert not first.replayed
    state = (balance(engine, "P1"), pool(engine), count(engine, ledger), count(engine, settlements),
             accumulated(engine, "P1"))

    again = visit(engine, book, "P1", "800.00", key="K-1")
    assert again.replayed
    assert again.row["setl_id"] == first.row["setl_id"]
    assert {k: again.row[k] for k in first.row if k != "setl_time"} == \
        {k: first.row[k] for k in first.row if k != "setl_time"}
    assert (balance(engine, "P1"), pool(engine), count(engine, ledger), count(engine, settlements),
            accumulated(engine, "P1")) == state

    with pytest.raises(InputError, match="already used"):
        visit(engine, book, "P2", "800.00", key="K-1")

    # the same new key from 8 threads at once: one settlement, the others replay it
    barrier = threading.Barrier(8)

    def once(_i):
        barrier.wait()
        return visit(engine, book, "P1", "100.00", key="K-2")

    with ThreadPoolExecutor(8) as pool_:
        results = list(pool_.map(once, range(8)))
    assert len({r.row["setl_id"] for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert count(engine, settlements) == state[3] + 1
    # 100 x 70 % = 70.00 yuan (the deductible is used up); share 30.00, balance 340 - 30 = 310.00
    assert balance(engine, "P1") == fen("310.00")
    assert pool(engine) == state[1] - fen("70.00")
    assert_clean(engine)


# 3 ----------------------------------------------------------------------------------------------------------


def test_family_mutual_aid_own_account_first_then_owner(engine, book):
    setup(engine, book, [person("O1", date(1970, 1, 1), balc="500.00"),
                         person("C1", date(1995, 6, 1), balc="50.00")],
          relations=[("O1", "C1", "child")])
    family.authorize(engine, "O1", "C1")

    s = visit(engine, book, "C1", "300.00")
    # in service, level 1: 300 is within the deductible of 600, the pool pays 0; share 300.00:
    # the child's own 50.00 first, then 250.00 from the parent's account; no cash
    assert (s.row["act_pay_dedc"], s.row["hifp_pay"]) == (fen("300.00"), 0)
    assert s.row["acct_pay"] == fen("300.00")
    assert s.row["acct_mulaid_pay"] == fen("250.00")
    assert s.row["psn_cash_pay"] == 0
    assert s.row["balc"] == 0  # the patient's own balance: 50 - 50
    assert_parts_add_up(s)
    assert balance(engine, "O1") == fen("250.00")  # 500 - 250
    with engine.connect() as conn:
        rows = conn.execute(sql_select(ledger.c.holder, ledger.c.kind, ledger.c.amount, ledger.c.psn_no)
                            .where(ledger.c.setl_id == s.row["setl_id"]).order_by(ledger.c.holder)).all()
    assert [tuple(r) for r in rows] == [("C1", "acct_pay", -fen("50.00"), "C1"),
                                         ("O1", MULAID_PAY, -fen("250.00"), "C1")]

    family.revoke(engine, "O1", "C1")
    after = visit(engine, book, "C1", "100.00")
    # deductible used so far 300, 100 more is still within it; share 100.00; own account empty and the
    # parent's no longer pays: all 100.00 in cash, the parent keeps 250.00
    assert (after.row["acct_pay"], after.row["acct_mulaid_pay"], after.row["psn_cash_pay"]) == (
        0, 0, fen("100.00"))
    assert balance(engine, "O1") == fen("250.00")
    assert_clean(engine)


# 4 ----------------------------------------------------------------------------------------------------------


def test_concurrent_settlements_equal_sequential(db_url, engine, book):
    setup(engine, book, [person("T1", date(1980, 1, 1), balc="2000.00"),
                         person("T2", date(1981, 1, 1), balc="2000.00")])
    covered = [f"{10 * (i + 1)}.00" for i in range(16)]  # 10, 20, ..., 160: 1360.00 yuan in all
    start = pool(engine)

    threaded = open_engine(db_url, pool_size=20)
    barrier = threading.Barrier(16)

    def run(amount):
        barrier.wait()
        return visit(threaded, book, "T1", amount)

    try:
        with ThreadPoolExecutor(16) as ex:
            results = list(ex.map(run, covered))
    finally:
        threaded.dispose()
    assert len({r.row["setl_id"] for r in results}) == 16
    after_threads = pool(engine)

    for amount in covered:
        visit(engine, book, "T2", amount)

    # in service, level 1: deductible 600.00 of 1360.00, then (1360 - 600) = 760 x 70 % = 532.00 yuan from the
    # pool in whatever order (every visit's part above the deductible is a multiple of 10 yuan: no rounding)
    expected_acc = (fen("600.00"), fen("532.00"), fen("1360.00"), 0)
    assert accumulated(engine, "T1") == accumulated(engine, "T2") == expected_acc
    # share 1360 - 532 = 828.00 from the account: 2000 - 828 = 1172.00
    assert balance(engine, "T1") == balance(engine, "T2") == fen("1172.00")
    assert start - after_threads == after_threads - pool(engine) == fen("532.00")
    with engine.connect() as conn:
        paid = dict(conn.execute(sql_select(settlements.c.psn_no, func.sum(settlements.c.hifp_pay))
                                 .group_by(settlements.c.psn_no)).all())
    assert paid == {"T1": fen("532.00"), "T2": fen("532.00")}
    assert_clean(engine)


# 5 ----------------------------------------------------------------------------------------------------------


def test_two_relatives_never_overdraw_one_account(engine, book):
    owners = {"O1": "100.00", "O2": "13.50", "O3": "0.01"}
    people, relations, users = [], [], []
    for i, (owner, opening) in enumerate(owners.items()):
        people += [person(owner, date(1970, 1, 1 + i), balc=opening),
                   person(f"S{i}", date(1971, 1, 1 + i), gend="2"),  # no opening balance: an empty account
                   person(f"C{i}", date(1995, 1, 1 + i))]
        relations += [(owner, f"S{i}", "spouse"), (owner, f"C{i}", "child")]
        users += [(owner, f"S{i}"), (owner, f"C{i}")]
    setup(engine, book, people, relations)
    for owner, user in users:
        family.authorize(engine, owner, user)
    rounds = 10
    barrier = threading.Barrier(len(users))
    failures: list[BaseException] = []

    def one(user):
        barrier.wait()
        try:
            return visit(engine, book, user, "7.00")
        except BaseException as exc:  # an Insufficient here would mean two payments saw the same balance
            failures.append(exc)
            raise

    with ThreadPoolExecutor(len(users)) as ex:
        for _ in range(rounds):
            list(ex.map(one, [u for _o, u in users]))
            for owner, opening in owners.items():
                assert 0 <= balance(engine, owner) <= fen(opening)
    assert not failures

    with engine.connect() as conn:
        rows = conn.execute(sql_select(settlements.c.psn_no, settlements.c.acct_pay, settlements.c.acct_mulaid_pay,
                                       settlements.c.psn_cash_pay, settlements.c.hifp_pay)).all()
        mulaid_moved = dict(conn.execute(sql_select(ledger.c.holder, func.sum(ledger.c.amount))
                                         .where(ledger.c.kind == MULAID_PAY).group_by(ledger.c.holder)).all())
    assert len(rows) == rounds * len(users)
    for owner, opening in owners.items():
        mine = [r for r in rows if (owner, r.psn_no) in users]
        # each visit: 7.00 within the deductible, the pool pays 0; the relatives' own accounts are empty,
        # so everything from an account is the owner's and the rest is cash
        assert all(r.hifp_pay == 0 and r.acct_pay == r.acct_mulaid_pay
                   and r.acct_pay + r.psn_cash_pay == fen("7.00") for r in mine)
        paid = sorted((r.acct_mulaid_pay for r in mine), reverse=True)
        full, rest = divmod(fen(opening), fen("7.00"))
        # O1: 100.00 = 14 x 7.00 + 2.00; O2: 13.50 = 1 x 7.00 + 6.50; O3: 0.01 = 0 x 7.00 + 0.01
        assert paid == [fen("7.00")] * full + ([rest] if rest else []) + [0] * (len(mine) - full - (1 if rest else 0))
        assert sum(paid) == fen(opening) == -mulaid_moved[owner]
        assert balance(engine, owner) == 0
    assert_clean(engine)


# 6 ----------------------------------------------------------------------------------------------------------

KILLED = r"""
import sys, time
from datetime import date
from gongji.policy.loader import PolicyBook
from gongji.services import settlement
from gongji.store.db import open_engine

engine, book = open_engine(sys.argv[1]), PolicyBook.load()

def request(covered):
    return settlement.parse_settle({"psn_no": "K1", "fixmedins_code": "H32100000001", "date": "2024-03-01",
                                    "covered": covered})

for _ in range(3):
    settlement.settle(engine, book, request("300.00"))
print("SETTLED", flush=True)

def hang(*args, **kwargs):
    # inside _write: the settlement row, its accumulators and the account movement are written, the pool
    # movement is not, nothing is committed
    print("INSIDE", flush=True)
    time.sleep(600)

settlement.pool_out = hang
settlement.settle(engine, book, request("400.00"))
print("NOT REACHED", flush=True)
"""


def _wait_for(proc: subprocess.Popen, marker: bytes, timeout: float = 60) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(left, 0))
        if not ready:
            proc.kill()
            pytest.fail(f"no {marker!r} within {timeout} s; output {seen!r}")
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            pytest.fail(f"the process ended before {marker!r}: {seen!r} {proc.stderr.read()!r}")
        seen += chunk
    return seen


def test_killed_mid_transaction_leaves_all_or_nothing(db_url, engine, book):
    setup(engine, book, [person("K1", date(1980, 1, 1), balc="1000.00")])
    proc = subprocess.Popen([sys.executable, "-c", KILLED, db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(proc, b"INSIDE")
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    # the three committed visits stand, the fourth left nothing
    with engine.connect() as conn:
        stored = conn.execute(sql_select(settlements).order_by(settlements.c.id)).mappings().all()
        by_setl = {}
        for setl_id, fund, amount in conn.execute(sql_select(ledger.c.setl_id, ledger.c.fund, ledger.c.amount)
                                                  .where(ledger.c.setl_id.is_not(None))):
            by_setl.setdefault(setl_id, {}).setdefault(fund, 0)
            by_setl[setl_id][fund] += amount
    assert [s["inscp_scp_amt"] for s in stored] == [fen("300.00")] * 3
    assert set(by_setl) <= {s["setl_id"] for s in stored}, "ledger rows of a settlement that is not stored"
    for s in stored:
        moved = by_setl.get(s["setl_id"], {})
        assert moved.get(ACCOUNT, 0) == -s["acct_pay"] and moved.get(POOL, 0) == -s["hifp_pay"]
    # in service, level 1: 300 + 300 take the deductible of 600; the third 300 x 70 % = 210.00 yuan;
    # shares 300 + 300 + 90 = 690.00 from the account: 1000 - 690 = 310.00
    assert [s["hifp_pay"] for s in stored] == [0, 0, fen("210.00")]
    assert balance(engine, "K1") == fen("310.00")
    assert accumulated(engine, "K1") == (sum(s["act_pay_dedc"] for s in stored), sum(s["hifp_pay"] for s in stored),
                                         sum(s["inscp_scp_amt"] for s in stored), 0) \
        == (fen("600.00"), fen("210.00"), fen("900.00"), 0)
    assert pool(engine) == fen(POOL_START) - fen("210.00")
    assert_clean(engine)

    # the database takes the next settlement (the killed one's locks are gone): 400 x 70 % = 280.00 yuan,
    # share 120.00, balance 310 - 120 = 190.00
    after = visit(engine, book, "K1", "400.00")
    assert (after.row["hifp_pay"], after.row["balc"]) == (fen("280.00"), fen("190.00"))
    assert_clean(engine)


# 7 ----------------------------------------------------------------------------------------------------------


def test_reversal_replays_the_year(engine, book):
    setup(engine, book, [person("V1", date(1980, 1, 1), balc="1000.00"),
                         person("V2", date(1981, 1, 1), balc="1000.00")])
    a = visit(engine, book, "V1", "400.00", on=date(2024, 3, 1))
    b = visit(engine, book, "V1", "300.00", on=date(2024, 3, 2))
    c = visit(engine, book, "V1", "300.00", on=date(2024, 3, 3))
    # in service, level 1, deductible 600:
    # A 400: all deductible, pool 0, share 400 -> balance 600.00
    # B 300: deductible 200, (300 - 200) = 100 x 70 % = 70.00, share 230 -> balance 370.00
    # C 300: deductible 0, 300 x 70 % = 210.00, share 90 -> balance 280.00
    assert [(s.row["act_pay_dedc"], s.row["hifp_pay"]) for s in (a, b, c)] == [
        (fen("400.00"), 0), (fen("200.00"), fen("70.00")), (0, fen("210.00"))]
    assert balance(engine, "V1") == fen("280.00")
    pool_before = pool(engine)

    with pytest.raises(InputError, match="another institution"):
        reverse(engine, book, b.row["setl_id"], H2)
    r = reverse(engine, book, b.row["setl_id"], H1)
    for k in ("medfee_sumamt", "inscp_scp_amt", "act_pay_dedc", "hifp_pay", "psn_part_amt", "acct_pay",
              "acct_mulaid_pay", "psn_cash_pay"):
        assert r.row[k] == -b.row[k], k
    assert r.row["hifp_pay"] == -fen("70.00") and r.row["acct_pay"] == -fen("230.00")
    assert r.row["reverses"] == b.row["setl_id"]
    assert r.row["balc"] == fen("510.00")  # 280 + B's 230 back
    assert balance(engine, "V1") == fen("510.00")
    assert pool(engine) == pool_before + fen("70.00")
    with pytest.raises(InputError, match="already reversed"):
        reverse(engine, book, b.row["setl_id"], H1)
    with pytest.raises(InputError, match="itself a reversal"):
        reverse(engine, book, r.row["setl_id"], H1)

    # replayed without B: A takes 400 of the deductible, C the other 200 and pays (300 - 200) x 70 % = 70.00;
    # subtracting B would have left deductible 400 (600 - 200) and pool 210 (280 - 70) instead
    assert accumulated(engine, "V1") == (fen("600.00"), fen("70.00"), fen("700.00"), 0)

    visit(engine, book, "V2", "400.00", on=date(2024, 3, 1))
    visit(engine, book, "V2", "300.00", on=date(2024, 3, 3))
    assert accumulated(engine, "V2") == accumulated(engine, "V1")
    d1 = visit(engine, book, "V1", "500.00", on=date(2024, 3, 4))
    d2 = visit(engine, book, "V2", "500.00", on=date(2024, 3, 4))
    # D 500 with the deductible used up: 500 x 70 % = 350.00 yuan, share 150.00
    # (with B merely subtracted it would have been deductible 200, (500 - 200) x 70 % = 210.00)
    assert amounts(d1) == amounts(d2)
    assert (d1.row["act_pay_dedc"], d1.row["hifp_pay"], d1.row["psn_part_amt"]) == (0, fen("350.00"), fen("150.00"))
    assert accumulated(engine, "V1") == accumulated(engine, "V2") == (
        fen("600.00"), fen("420.00"), fen("1200.00"), 0)
    assert_clean(engine)


# 8 ----------------------------------------------------------------------------------------------------------


def test_no_pool_in_hospital_or_out_of_normal_status(engine, book):
    setup(engine, book, [person("N1", date(1980, 1, 1), balc="1000.00"),
                         person("N2", date(1981, 1, 1), balc="1000.00", stas="2")])
    stays.admit(engine, "N1", H2, date(2024, 3, 1))
    inside = visit(engine, book, "N1", "800.00", on=date(2024, 3, 5))
    # in hospital: the pool pays nothing and no deductible is counted; the account pays all 800.00
    assert (inside.row["hifp_pay"], inside.row["act_pay_dedc"], inside.row["pooled"]) == (0, 0, False)
    assert "在院" in inside.row["no_pool_reason"]
    assert setlinfo(inside)["setl_proc_info"] == inside.row["no_pool_reason"]
    assert (inside.row["acct_pay"], inside.row["psn_cash_pay"], inside.row["balc"]) == (
        fen("800.00"), 0, fen("200.00"))
    assert accumulated(engine, "N1") == (0, 0, 0, 0)

    stays.discharge(engine, "N1", date(2024, 3, 10))
    out = visit(engine, book, "N1", "800.00", on=date(2024, 3, 11))
    # discharged: the whole deductible is still open, 800 - 600 = 200 x 70 % = 140.00 yuan; share 660.00 of
    # which the account (200.00) pays 200.00, cash 460.00
    assert (out.row["act_pay_dedc"], out.row["hifp_pay"], out.row["no_pool_reason"]) == (
        fen("600.00"), fen("140.00"), None)
    assert (out.row["acct_pay"], out.row["psn_cash_pay"]) == (fen("200.00"), fen("460.00"))

    paused = visit(engine, book, "N2", "800.00")
    # psn_insu_stas 2 (paused): no pool, the account pays all 800.00
    assert (paused.row["hifp_pay"], paused.row["pooled"]) == (0, False)
    assert "psn_insu_stas 2" in paused.row["no_pool_reason"]
    assert (paused.row["acct_pay"], paused.row["balc"]) == (fen("800.00"), fen("200.00"))
    assert_parts_add_up(paused)
    assert_clean(engine)


# 9 ----------------------------------------------------------------------------------------------------------


def test_pharmacy_pays_at_the_prescribers_level(engine, book):
    setup(engine, book, [person("D1", date(1980, 1, 1), balc="1000.00"),
                         person("D2", date(1981, 1, 1), balc="1000.00"),
                         person("D3", date(1982, 1, 1), balc="1000.00")])
    rx = visit(engine, book, "D1", "800.00", code=P_POOLED, med_type="41", rxno=prescribe(engine, book, "D1", H2))
    # on a level-2 prescription, in service: 800 - 600 = 200 x 65 % = 130.00 yuan
    assert (rx.row["act_pay_dedc"], rx.row["hifp_pay"], rx.row["pool_prop"]) == (fen("600.00"), fen("130.00"), 6500)
    info = setlinfo(rx)
    assert (info["hosp_lv"], info["clr_type"], info["setl_proc_info"]) == (2, "41", None)
    assert rx.row["acct_pay"] == fen("670.00")  # share 800 - 130
    assert_parts_add_up(rx)

    bare = visit(engine, book, "D2", "800.00", code=P_POOLED, med_type="41")
    # no prescription: account or cash only, the account pays all 800.00
    assert (bare.row["hifp_pay"], bare.row["act_pay_dedc"], bare.row["acct_pay"]) == (0, 0, fen("800.00"))
    assert "外配处方" in setlinfo(bare)["setl_proc_info"]

    closed = visit(engine, book, "D3", "800.00", code=P_NOT_POOLED, med_type="41",
                   rxno=prescribe(engine, book, "D3", H2))
    # a pharmacy not admitted to outpatient pooling: nothing from the pool even on a prescription
    assert (closed.row["hifp_pay"], closed.row["acct_pay"]) == (0, fen("800.00"))
    assert "not admitted" in setlinfo(closed)["setl_proc_info"]
    assert accumulated(engine, "D2") == accumulated(engine, "D3") == (0, 0, 0, 0)
    assert_clean(engine)
