"""Clearing (清算) of cross-region care on SQLite and PostgreSQL, the amounts worked by hand from the region files.

Yunnan 530000 (530000.yaml; Lincang 530900 and Shuangjiang 530925 fall back to it), in force from 2024-11-01:
ordinary outpatient deductible per visit 20/40/60 at levels 1/2/3; ratios 60/55/50 % in service; cross-region:
registered temporary -10 points, referral and resident 0; unregistered: no pooled fund.
Yangzhou 321000 (321000.yaml): annual deductible 600 in service; ratios 70/65/60 % in service; cross-region:
resident registration 0, unregistered -20 points.
The insured region owes the treating region what it advanced: the fund's and the account's payments.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import update

from gongji.errors import InputError
from gongji.services import registrations
from gongji.services.clearing import clear_month, in_yuan, parse_month
from gongji.services.crediting import deposit
from gongji.services.imports import import_csv
from gongji.services.settlement import reverse
from gongji.store.db import transaction
from gongji.store.tables import settlements
from tests.factories import assert_clean, fen, institution, institutions_csv, person, persons_csv
from tests.services.test_settlement_db import H1, H3, assert_parts_add_up, visit

MARCH = "2025-03"
LINCANG, SHUANGJIANG, KUNMING, YANGZHOU = "530900", "530925", "530100", "321000"
H_LINCANG, H_KUNMING = "H53090000001", "H53010000001"
"""level-1 medical institutions in Lincang and in Kunming."""


def register(engine, psn_no: str, region: str, reason: str) -> None:
    with transaction(engine) as conn:
        registrations.record(conn, registrations.parse_registration(
            {"psn_no": psn_no, "mdtrtarea_admvs": region, "reason": reason, "begndate": "2025-01-01"}))


@pytest.fixture
def month(engine, book) -> dict:
    """A March 2025 of cross-region visits, one reversed, and visits clearing leaves out."""
    import_csv(engine, "institutions", institutions_csv([
        institution(H1, 1), institution(H3, 3), institution(H_LINCANG, 1, region=LINCANG),
        institution(H_KUNMING, 1, region=KUNMING)]), book)
    import_csv(engine, "persons", persons_csv([
        person("L1", date(1980, 1, 1), region=LINCANG, balc="300.00", serial=1),
        person("L2", date(1981, 1, 1), region=LINCANG, balc="100.00", serial=2),
        person("S1", date(1982, 1, 1), region=SHUANGJIANG, serial=3),
        person("Z1", date(1983, 1, 1), balc="150.00", serial=4),
        person("Z2", date(1984, 1, 1), balc="1000.00", serial=5)]), book)
    for region in (YANGZHOU, LINCANG, SHUANGJIANG):
        deposit(engine, region, fen("100000.00"), date(2025, 1, 1))
    register(engine, "L1", YANGZHOU, "temporary")
    register(engine, "L2", YANGZHOU, "referral")
    register(engine, "Z2", LINCANG, "resident")
    done = {
        # Lincang members in Yangzhou, under Yunnan's policy.
        # L1, level 3, temporary: deductible 60, 50 % - 10 = 40 %: (1000 - 60) x 40 % = 376.00 from Lincang's pool;
        # share 624.00: the account's 300.00, cash 324.00.
        "L1": visit(engine, book, "L1", "1000.00", date(2025, 3, 3), H3),
        # L2, level 1, referral: deductible 20, 60 %: (500 - 20) x 60 % = 288.00; share 212.00: account 100.00,
        # cash 112.00. Reversed below.
        "L2": visit(engine, book, "L2", "500.00", date(2025, 3, 5), H1),
        # S1, insured in the county Shuangjiang (pooled with its city Lincang), unregistered: Yunnan pays no pooled
        # fund; no account balance: cash 100.00.
        "S1": visit(engine, book, "S1", "100.00", date(2025, 3, 6), H1),
        # Yangzhou members in Yunnan, under Yangzhou's policy.
        # Z1 in Kunming, level 1, unregistered: 70 % - 20 = 50 %: (1000 - 600) x 50 % = 200.00; share 800.00:
        # account 150.00, cash 650.00.
        "Z1": visit(engine, book, "Z1", "1000.00", date(2025, 3, 10), H_KUNMING),
        # Z2 in Lincang, level 1, resident: 70 %: (800 - 600) x 70 % = 140.00; share 660.00 from the account.
        "Z2": visit(engine, book, "Z2", "800.00", date(2025, 3, 12), H_LINCANG),
        # Left out: S1 at home in Lincang (one pooling region with Shuangjiang), Z1 at home, Z1 in April.
        "S1 home": visit(engine, book, "S1", "100.00", date(2025, 3, 12), H_LINCANG),
        "Z1 home": visit(engine, book, "Z1", "100.00", date(2025, 3, 15), H1),
        "Z1 April": visit(engine, book, "Z1", "100.00", date(2025, 4, 2), H_KUNMING),
    }
    done["L2 reversal"] = reverse(engine, book, done["L2"].row["setl_id"], H1)
    return done


def test_the_settlements_are_what_the_policies_say(month, engine):
    expected = {  # (hifp_pay, acct_pay, psn_cash_pay), worked in the fixture
        "L1": ("376.00", "300.00", "324.00"), "L2": ("288.00", "100.00", "112.00"), "S1": ("0.00", "0.00", "100.00"),
        "Z1": ("200.00", "150.00", "650.00"), "Z2": ("140.00", "660.00", "0.00")}
    for who, (fund, acct, cash) in expected.items():
        row = month[who].row
        assert (row["hifp_pay"], row["acct_pay"], row["psn_cash_pay"]) == (fen(fund), fen(acct), fen(cash)), who
        assert_parts_add_up(month[who])
    assert month["L2 reversal"].row["hifp_pay"] == -fen("288.00")
    assert_clean(engine)


def test_a_month_clears_per_pair_of_regions_and_nets(month, engine, book):
    result = clear_month(engine, book, MARCH)
    flows = {(f.insured, f.treating): f for f in result.flows}
    assert list(flows) == [(YANGZHOU, KUNMING), (YANGZHOU, LINCANG), (LINCANG, YANGZHOU)]

    kunming = flows[(YANGZHOU, KUNMING)]  # Z1
    assert (kunming.settlements, kunming.reversals) == (1, 0)
    assert (kunming.medfee_sumamt, kunming.fund_pay, kunming.acct_pay, kunming.cash_pay) == (
        fen("1000.00"), fen("200.00"), fen("150.00"), fen("650.00"))
    assert kunming.owed == fen("350.00")  # 200.00 + 150.00

    lincang = flows[(YANGZHOU, LINCANG)]  # Z2
    assert (lincang.settlements, lincang.medfee_sumamt, lincang.fund_pay, lincang.acct_pay, lincang.cash_pay) == (
        1, fen("800.00"), fen("140.00"), fen("660.00"), 0)
    assert lincang.owed == fen("800.00")  # 140.00 + 660.00

    # L1, L2 and its reversal, and S1 (Shuangjiang counts as Lincang):
    # medfee 1000 + 500 - 500 + 100 = 1100.00; fund 376 + 288 - 288 + 0 = 376.00;
    # account 300 + 100 - 100 + 0 = 300.00; cash 324 + 112 - 112 + 100 = 424.00; owed 376 + 300 = 676.00
    yangzhou = flows[(LINCANG, YANGZHOU)]
    assert (yangzhou.settlements, yangzhou.reversals) == (3, 1)
    assert (yangzhou.medfee_sumamt, yangzhou.fund_pay, yangzhou.acct_pay, yangzhou.cash_pay, yangzhou.owed) == (
        fen("1100.00"), fen("376.00"), fen("300.00"), fen("424.00"), fen("676.00"))

    nets = {(n.region_a, n.region_b): n for n in result.nets}
    assert list(nets) == [(YANGZHOU, KUNMING), (YANGZHOU, LINCANG)]
    # Yangzhou owes Kunming 350.00 and Kunming owes nothing back
    k = nets[(YANGZHOU, KUNMING)]
    assert (k.a_owes_b, k.b_owes_a, k.payer, k.payee, k.amount) == (fen("350.00"), 0, YANGZHOU, KUNMING,
                                                                      fen("350.00"))
    # Yangzhou owes Lincang 800.00, Lincang owes Yangzhou 676.00: Yangzhou pays 800 - 676 = 124.00
    n = nets[(YANGZHOU, LINCANG)]
    assert (n.a_owes_b, n.b_owes_a, n.payer, n.payee, n.amount) == (fen("800.00"), fen("676.00"), YANGZHOU, LINCANG,
                                                                      fen("124.00"))
    assert result.names == {YANGZHOU: "扬州市", LINCANG: "云南省", KUNMING: "云南省"}

    shown = in_yuan(result)
    assert shown["nets"][1] == {"region_a": {"admdvs": YANGZHOU, "name": "扬州市"},
                                "region_b": {"admdvs": LINCANG, "name": "云南省"}, "a_owes_b": "800.00",
                                "b_owes_a": "676.00", "payer": YANGZHOU, "payee": LINCANG, "amount": "124.00"}


def test_other_months_and_settlements_without_a_recorded_treating_region(month, engine, book):
    april = clear_month(engine, book, "2025-04")
    # only Z1's April visit in Kunming: level 1, deductible met in March, 100 x 50 % = 50.00; the account is
    # empty (150.00 went in March): cash 50.00
    (flow,) = april.flows
    assert (flow.insured, flow.treating, flow.fund_pay, flow.acct_pay, flow.cash_pay) == (
        YANGZHOU, KUNMING, fen("50.00"), 0, fen("50.00"))
    assert [(n.payer, n.payee, n.amount) for n in april.nets] == [(YANGZHOU, KUNMING, fen("50.00"))]
    empty = clear_month(engine, book, "2025-02")
    assert (empty.flows, empty.nets) == ([], [])
    # a settlement stored before the treating region was recorded is placed by its institution's region
    before = clear_month(engine, book, MARCH)
    with transaction(engine) as conn:
        conn.execute(update(settlements).where(settlements.c.setl_id == month["Z1"].row["setl_id"])
                     .values(mdtrtarea_admvs=None))
    assert clear_month(engine, book, MARCH) == before


@pytest.mark.parametrize("text", ["2025-13", "2025-3", "2025-03-01", "march", "", "0000-01"])
def test_a_month_that_is_not_yyyy_mm_is_refused(text):
    with pytest.raises(InputError, match=f"month: {text!r} is not a month like 2026-11"):
        parse_month(text)


def test_parse_month_gives_the_first_and_last_day():
    assert parse_month("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert parse_month("9999-12") == (date(9999, 12, 1), date(9999, 12, 31))
