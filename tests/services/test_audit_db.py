"""The audit (稽核) of chronic and special disease payments (门诊慢特病, chronic_pay), on SQLite and PostgreSQL:
the per-region total, every settlement's parts (medfee_sumamt = hifp_pay + inpatient_pay + chronic_pay +
psn_part_amt) and the settlements' payments against the ledger's.

Yangzhou 321000 from 2024 (gongji/policy/regions/321000.yaml): ordinary pooling deductible 600.00 in service,
70 % at level 1; disease M03900 (高血压): no deductible, 80 % at level 1 in service, limit 2000.00 a year.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from gongji.services import qualifications
from gongji.services.audit import TOTALS, audit
from gongji.services.crediting import deposit
from gongji.services.imports import import_csv
from gongji.services.settlement import parse_settle, reverse, settle
from gongji.store.db import transaction
from gongji.store.tables import settlements
from tests.factories import fen, institution, institutions_csv, person, persons_csv

H1 = "H32100000001"
DAY = date(2024, 3, 1)


def year_with_a_disease(engine, book) -> list[str]:
    """E1 (in service, qualified for M03900) settles an ordinary visit from the account and two disease visits
    in cash, the second of which is reversed; returns the setl_ids."""
    import_csv(engine, "institutions", institutions_csv([institution(H1, 1)]), book)
    import_csv(engine, "persons", persons_csv([person("E1", date(1980, 1, 1), balc="3000.00")]), book)
    deposit(engine, "321000", fen("100000.00"), date(2024, 1, 1))
    with transaction(engine) as conn:
        qualifications.record(conn, book, qualifications.parse_qualification(
            {"psn_no": "E1", "opsp_dise_code": "M03900", "begndate": "2024-01-01"}))
    base = {"psn_no": "E1", "fixmedins_code": H1, "date": DAY.isoformat()}
    ordinary = settle(engine, book, parse_settle(base | {"covered": "1000.00"}))
    disease = settle(engine, book, parse_settle(base | {"covered": "500.00", "med_type": "14", "dise_codg": "M03900",
                                                       "acct_used_flag": "0"}))
    again = settle(engine, book, parse_settle(base | {"covered": "300.00", "med_type": "14", "dise_codg": "M03900"}))
    reverse(engine, book, again.row["setl_id"], H1)
    return [ordinary.row["setl_id"], disease.row["setl_id"], again.row["setl_id"]]


def test_chronic_payments_are_a_total_of_their_own(engine, book):
    year_with_a_disease(engine, book)
    report = audit(engine)
    assert report.clean, report.differences
    assert "chronic_benefit_paid" in TOTALS
    totals = report.totals["321000"]
    # ordinary: (1000 - 600) x 70 % = 280.00; disease: 500 x 80 % = 400.00, and 300 x 80 % = 240.00 reversed
    assert totals["outpatient_fund_paid"] == fen("280.00")
    assert totals["chronic_benefit_paid"] == fen("400.00")
    assert totals["inpatient_benefit_paid"] == 0
    # the pool: 100000.00 deposited less 280.00 and 400.00
    assert totals["pool_balance"] == fen("99320.00")
    # the account pays the ordinary visit's share 1000 - 280 = 720.00; the disease share 500 - 400 = 100.00 is cash
    assert totals["account_paid_own"] == fen("720.00")
    assert report.checked_settlements == 4  # three settlements and one reversal


def test_a_chronic_pay_that_breaks_the_parts_is_found(engine, book):
    _ordinary, disease, _reversed = year_with_a_disease(engine, book)
    with engine.begin() as conn:
        conn.execute(update(settlements).where(settlements.c.setl_id == disease)
                     .values(chronic_pay=settlements.c.chronic_pay + 1))
    differences = audit(engine).differences
    assert f"settlement {disease}: its parts do not add up" in differences
    assert "settlements' chronic_pay 400.01 != ledger 400.00" in differences


def test_a_chronic_pay_the_ledger_did_not_move_is_found(engine, book):
    _ordinary, disease, _reversed = year_with_a_disease(engine, book)
    with engine.begin() as conn:  # parts still add up: 1.00 moved from the member's share to chronic_pay
        conn.execute(update(settlements).where(settlements.c.setl_id == disease)
                     .values(chronic_pay=settlements.c.chronic_pay + 100,
                             psn_part_amt=settlements.c.psn_part_amt - 100,
                             psn_cash_pay=settlements.c.psn_cash_pay - 100))
    differences = audit(engine).differences
    assert differences == ["settlements' chronic_pay 401.00 != ledger 400.00"]
