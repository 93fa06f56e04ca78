"""Monthly crediting against a real database, on SQLite and PostgreSQL (SPEC.md §2).

Yangzhou (321000, gongji/policy/regions/321000.yaml): 2022 pre-reform, own 2 % + employer 1 % of the base to the
account, retirees 4 % of their own pension; 2023 in service 2 % of the base, retirees their own 2022 total / 12;
from 2024 retirees 2.5 % of the reform year's average pension of 3000.00. Contributions are 7 % (employer) + 2 %
(member) of the base; what is not credited to accounts goes to the pool.
Yunnan (530000, 530000.yaml) from 2024-11: in service 2 % of the base; retirees 106.00 under 70, 142.00 at 70 and
over, the age counted on the first day of the month.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from gongji.engine.credit import EMPLOYER, INDIVIDUAL, POOL, CreditedMember, monthly_credit
from gongji.errors import InputError
from gongji.money import format_yuan
from gongji.policy.loader import PolicyBook
from gongji.services.crediting import LEDGER_KIND, credit_month, deposit
from gongji.services.imports import import_csv
from gongji.services.records import member_type_on
from gongji.store.db import open_engine
from gongji.store.ledger import ACCOUNT, CONTRIBUTION, CREDIT_POOL, pool_balance
from gongji.store.ledger import POOL as POOL_FUND
from gongji.store.tables import accounts, batch_runs, ledger, metadata
from tests.conftest import TEST_POLICIES
from tests.factories import assert_clean, fen, person, persons_csv, snapshot

YZ, YN = "321000", "530000"
SOURCE_OF = {kind: source for source, kind in LEDGER_KIND.items()}


def setup(engine, book, rows: list[dict], region: str = YZ, pool: str = "") -> None:
    import_csv(engine, "persons", persons_csv(rows), book)
    if pool:
        deposit(engine, region, fen(pool), date(2000, 1, 1))


def credits(engine, psn_no: str) -> dict[str, int]:
    """The account's credits by source."""
    with engine.connect() as conn:
        rows = conn.execute(select(ledger.c.kind, func.sum(ledger.c.amount)).where(
            ledger.c.fund == ACCOUNT, ledger.c.holder == psn_no, ledger.c.kind.in_(SOURCE_OF))
            .group_by(ledger.c.kind)).all()
    return {SOURCE_OF[kind]: int(amount) for kind, amount in rows}


def balance(engine, psn_no: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(accounts.c.balance).where(accounts.c.psn_no == psn_no)).scalar_one()


def pool(engine, region: str = YZ) -> int:
    with engine.connect() as conn:
        return pool_balance(conn, region)


def pool_moves(engine, region: str, kind: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0)).where(
            ledger.c.fund == POOL_FUND, ledger.c.holder == region, ledger.c.kind == kind)).scalar_one()


def worker(base: str = "6000.00", psn_no: str = "W1", **extra) -> dict:
    return person(psn_no, date(1980, 4, 10), base=base, serial=int(psn_no[1:]), **extra)


def retiree(psn_no: str = "R1", birth: date = date(1955, 6, 1), **extra) -> dict:
    return person(psn_no, birth, psn_type="12", gend="2", serial=int(psn_no[1:]), **extra)


# --- the amounts, worked by hand ------------------------------------------------------------------------------

def test_yangzhou_2024_in_service_and_retiree(engine, book):
    setup(engine, book, [worker("6000.00"), retiree(pension="4000.00")], pool="100.00")
    result = credit_month(engine, book, date(2024, 1, 1), YZ)
    assert not result.already and result.members == 2
    # in service: 2 % x 6000.00 = 120.00 from the member's own contribution
    assert credits(engine, "W1") == {INDIVIDUAL: fen("120.00")}
    # retiree: 2.5 % x 3000.00 (the reform year's average pension, not her own 4000.00) = 75.00 from the pool
    assert credits(engine, "R1") == {POOL: fen("75.00")}
    assert (balance(engine, "W1"), balance(engine, "R1")) == (fen("120.00"), fen("75.00"))
    assert result.credited == {INDIVIDUAL: fen("120.00"), POOL: fen("75.00")}
    # contributions: 7 % x 6000.00 = 420.00 + 2 % x 6000.00 = 120.00, less the 120.00 credited = 420.00
    assert result.contributions_to_pool == fen("420.00")
    assert pool_moves(engine, YZ, CONTRIBUTION) == fen("420.00")
    assert pool_moves(engine, YZ, CREDIT_POOL) == -fen("75.00")
    assert pool(engine) == fen("445.00")  # 100.00 + 420.00 - 75.00
    assert_clean(engine)


def test_yunnan_retiree_band_by_age_on_the_first_of_the_month(engine, book):
    seventy = retiree("R1", date(1954, 11, 1), region=YN)  # 70 on 2024-11-01
    sixty_nine = retiree("R2", date(1954, 11, 2), region=YN)  # 69 on 2024-11-01, 70 the next day
    setup(engine, book, [seventy, sixty_nine], region=YN, pool="1000.00")
    credit_month(engine, book, date(2024, 11, 1), YN)
    assert credits(engine, "R1") == {POOL: fen("142.00")}  # 70 and over: 142.00
    assert credits(engine, "R2") == {POOL: fen("106.00")}  # under 70 on the first: 106.00 all November
    credit_month(engine, book, date(2024, 12, 1), YN)
    assert balance(engine, "R1") == fen("284.00")  # 142.00 + 142.00
    assert balance(engine, "R2") == fen("248.00")  # 106.00 + 142.00: 70 on 2024-12-01
    assert pool(engine, YN) == fen("468.00")  # 1000.00 - 142.00 - 106.00 - 142.00 - 142.00
    assert_clean(engine)


def test_yunnan_has_no_policy_before_november_2024(engine, book):
    setup(engine, book, [retiree(region=YN)], region=YN, pool="1000.00")
    before = snapshot(engine)
    with pytest.raises(InputError, match="2024-10"):
        credit_month(engine, book, date(2024, 10, 1), YN)
    assert snapshot(engine) == before
    assert_clean(engine)


def test_yangzhou_2023_retirees_get_a_twelfth_of_their_2022_credit(engine, book):
    rows = [worker("6000.00"), retiree("R1", prev_year_credit="1000.02"), retiree("R2", prev_year_credit="1000.01")]
    setup(engine, book, rows)
    result = credit_month(engine, book, date(2023, 5, 1), YZ)
    assert credits(engine, "W1") == {INDIVIDUAL: fen("120.00")}  # 2 % x 6000.00
    assert credits(engine, "R1") == {POOL: fen("83.34")}  # 100002 fen / 12 = 8333.5, half-up 8334
    assert credits(engine, "R2") == {POOL: fen("83.33")}  # 100001 fen / 12 = 8333.42, 8333
    # 7 % + 2 % of 6000.00 = 540.00, less the 120.00 credited = 420.00 to the pool
    assert result.contributions_to_pool == fen("420.00")
    assert pool(engine) == fen("253.33")  # 420.00 - 83.34 - 83.33
    assert_clean(engine)


def test_yangzhou_2022_pre_reform(engine, book):
    setup(engine, book, [worker("6000.00"), retiree("R1", pension="3456.90")])
    result = credit_month(engine, book, date(2022, 7, 1), YZ)
    # own 2 % x 6000.00 = 120.00 and the employer's 1 % x 6000.00 = 60.00
    assert credits(engine, "W1") == {INDIVIDUAL: fen("120.00"), EMPLOYER: fen("60.00")}
    assert credits(engine, "R1") == {POOL: fen("138.28")}  # 4 % x 3456.90 = 138.276, half-up 138.28
    # 7 % (420.00) + 2 % (120.00) of 6000.00 = 540.00, less the 180.00 credited = 360.00
    assert result.contributions_to_pool == fen("360.00")
    assert pool(engine) == fen("221.72")  # 360.00 - 138.28
    assert_clean(engine)


def test_retired_from_the_month_after_the_retirement_date(engine, book):
    rows = [worker(psn_no="W1", retire_date="2024-03-31"), worker(psn_no="W2", retire_date="2024-03-01")]
    setup(engine, book, rows, pool="100.00")
    credit_month(engine, book, date(2024, 3, 1), YZ)
    for psn_no in ("W1", "W2"):  # still in service in March, even retiring on its first day: 2 % x 6000.00
        assert credits(engine, psn_no) == {INDIVIDUAL: fen("120.00")}
    credit_month(engine, book, date(2024, 4, 1), YZ)
    for psn_no in ("W1", "W2"):  # retired from April: 2.5 % x 3000.00 = 75.00 from the pool
        assert credits(engine, psn_no) == {INDIVIDUAL: fen("120.00"), POOL: fen("75.00")}
    # March: 2 x (540.00 - 120.00) = 840.00 in; April: no contributions, 2 x 75.00 out
    assert pool(engine) == fen("790.00")  # 100.00 + 840.00 - 150.00
    assert_clean(engine)


def test_paused_terminated_and_not_yet_insured_are_not_credited(engine, book):
    rows = [worker(psn_no="W1"), worker(psn_no="W2", psn_insu_stas="2"), worker(psn_no="W3", psn_insu_stas="4"),
            retiree("R1", psn_insu_stas="2"), retiree("R2", psn_insu_stas="4"),
            worker(psn_no="W4", psn_insu_date="2024-02-01")]
    setup(engine, book, rows, pool="100.00")
    result = credit_month(engine, book, date(2024, 1, 1), YZ)
    assert result.members == 1 and result.credited == {INDIVIDUAL: fen("120.00"), POOL: 0}
    assert result.contributions_to_pool == fen("420.00")  # W1 alone: 540.00 - 120.00
    assert balance(engine, "W1") == fen("120.00")
    for psn_no in ("W2", "W3", "R1", "R2", "W4"):
        assert credits(engine, psn_no) == {} and balance(engine, psn_no) == 0
    assert pool(engine) == fen("520.00")  # 100.00 + 420.00
    assert_clean(engine)


def test_the_pool_may_not_go_negative(engine, book):
    setup(engine, book, [retiree("R1"), retiree("R2")])
    before = snapshot(engine)
    with pytest.raises(InputError, match="pooled fund of 321000"):
        credit_month(engine, book, date(2024, 1, 1), YZ)  # 2 x 75.00 from an empty pool
    assert snapshot(engine) == before  # no credit, no run recorded
    deposit(engine, YZ, fen("150.00"), date(2024, 1, 1))
    assert not credit_month(engine, book, date(2024, 1, 1), YZ).already
    assert (balance(engine, "R1"), balance(engine, "R2"), pool(engine)) == (fen("75.00"), fen("75.00"), 0)
    assert_clean(engine)


# --- once per region and month ------------------------------------------------------------------------------

def test_second_run_credits_nothing(engine, book):
    setup(engine, book, [worker(), retiree()], pool="100.00")
    assert not credit_month(engine, book, date(2024, 1, 1), YZ).already
    before = snapshot(engine)
    again = credit_month(engine, book, date(2024, 1, 1), YZ)
    assert again.already and again.members == 0 and again.credited == {}
    assert snapshot(engine) == before
    assert_clean(engine)


def test_two_runs_at_the_same_time_credit_once(db_url, engine, book):
    members = 40
    setup(engine, book, [worker(psn_no=f"W{i}") for i in range(1, members + 1)])
    start = threading.Barrier(2)

    def run(_i):
        own = open_engine(db_url)
        try:
            start.wait()
            return credit_month(own, book, date(2024, 1, 1), YZ)
        finally:
            own.dispose()

    with ThreadPoolExecutor(2) as pool_:
        results = list(pool_.map(run, range(2)))
    assert sorted(r.already for r in results) == [False, True]
    done = next(r for r in results if not r.already)
    assert done.members == members and done.credited == {INDIVIDUAL: members * fen("120.00"), POOL: 0}
    assert all(balance(engine, f"W{i}") == fen("120.00") for i in range(1, members + 1))
    assert pool(engine) == members * fen("420.00")  # 40 x (540.00 - 120.00) = 16800.00
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batch_runs)).scalar_one() == 1
    assert_clean(engine)


# --- the SQL equals the pure reference ------------------------------------------------------------------------

BOOK = PolicyBook.load(TEST_POLICIES)
VERSIONS = [(code, i) for code in sorted(BOOK.regions) for i in range(len(BOOK.regions[code].versions))]
"""every version of every shipped region, and of the test region 990100 (three age bands)."""


def _first_months(version) -> list[date]:
    start = version.effective_from
    if start.day > 1:
        start = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    end = version.effective_to or date(start.year + 4, 12, 31)
    months, m = [], start
    while m <= end:
        months.append(m)
        m = (m + timedelta(days=32)).replace(day=1)
    return months


def _empty(engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@st.composite
def members(draw, month: date, count: int) -> list[dict]:
    """`count` members; the first born a day before, on or after the first of `month` 70 or 80 years back (the
    age bands' edge), the others near an edge or anywhere."""
    rows = []
    for i in range(count):
        edge = draw(st.sampled_from([70, 80]))
        near = st.sampled_from([-1, 0, 1]) if i == 0 else st.integers(-40, 40)
        birth = month.replace(year=month.year - edge) + timedelta(days=draw(near))
        if i > 0:
            birth = draw(st.one_of(st.just(birth), st.dates(date(1930, 1, 1), date(1999, 12, 31))))
        row = person(f"M{i}", birth, gend=draw(st.sampled_from("12")), psn_type=draw(st.sampled_from(["11", "12"])),
                     serial=i, pension=format_yuan(draw(st.integers(0, 1_000_000))),
                     prev_year_credit=format_yuan(draw(st.integers(0, 500_000))))
        row["crt_cont_base"] = format_yuan(draw(st.integers(0, 5_000_000)))
        retire = draw(st.one_of(st.none(), st.dates(month - timedelta(days=70), month + timedelta(days=70))))
        row["retire_date"] = retire.isoformat() if retire else ""
        rows.append(row)
    return rows


@pytest.mark.parametrize(("admdvs", "index"), VERSIONS, ids=[f"{a}-v{i}" for a, i in VERSIONS])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_sql_crediting_equals_monthly_credit(engine, book, admdvs, index, data):
    version = book.regions[admdvs].versions[index]
    month = data.draw(st.sampled_from(_first_months(version)), label="month")
    rows = data.draw(members(month, data.draw(st.integers(1, 6))), label="members")
    _empty(engine)
    for row in rows:
        row["insuplc_admdvs"] = admdvs  # the ID number keeps its Yangzhou birth place
    setup(engine, book, rows, region=admdvs, pool="100000.00")
    result = credit_month(engine, book, month, admdvs)
    assert book.policy_for(admdvs, month) is version and result.members == len(rows)
    for row in rows:
        member = CreditedMember(member_type_on(row["psn_type"], date.fromisoformat(row["retire_date"]) if
                                               row["retire_date"] else None, month),
                                date.fromisoformat(row["brdy"]), fen(row["crt_cont_base"]), fen(row["pension"]),
                                fen(row["prev_year_credit"]))
        expected = monthly_credit(version, member, month)
        assert credits(engine, row["psn_no"]) == {p.source: p.amount for p in expected.parts if p.amount}, member
        assert balance(engine, row["psn_no"]) == expected.amount
    assert_clean(engine)
