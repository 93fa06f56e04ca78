"""Stored settlements as the monitoring rules read them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from gongji.services import family, stays
from gongji.services.claims import claim_frames, claims_of, member_claims
from gongji.services.imports import import_csv
from gongji.services.settlement import parse_settle, reverse, settle
from tests.factories import csv_bytes, fen, person
from tests.services.test_imports import CATALOGUE_COLUMNS, item
from tests.services.test_settlement_db import H1, H2, setup, visit


def _loaded(engine, date_from=date(2024, 1, 1), date_to=date(2024, 12, 31), psn_no=None):
    with engine.connect() as conn:
        return claim_frames(conn, date_from, date_to, psn_no)


def test_claims_and_lines_as_the_rules_read_them(engine, book):
    setup(engine, book, [person("O1", date(1970, 1, 1), balc="500.00"),
                         person("C1", date(1995, 6, 1), gend="2", balc="0.00")],
          relations=[("O1", "C1", "child")])
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, [
        item("D01"), {**item("S01"), "list_type": "service"}]), book)
    family.authorize(engine, "O1", "C1")
    first = visit(engine, book, "C1", "300.00", on=date(2024, 3, 1))
    lines = settle(engine, book, parse_settle({
        "psn_no": "O1", "fixmedins_code": H2, "date": "2024-03-02",
        "lines": [{"med_list_codg": "D01", "pric": "12.3456", "cnt": "2"},
                  {"med_list_codg": "S01", "pric": "40", "cnt": "1.5"}]}))
    gone = visit(engine, book, "O1", "80.00", on=date(2024, 3, 3))
    reverse(engine, book, gone.row["setl_id"], H1)
    stays.admit(engine, "O1", H2, date(2024, 4, 1))
    during = visit(engine, book, "O1", "50.00", on=date(2024, 4, 2))
    visit(engine, book, "O1", "60.00", on=date(2025, 1, 5))  # another year

    claims, line_rows = _loaded(engine)
    # the reversed visit and its reversal are left out, and so is 2025's
    assert claims["key"].to_list() == [first.row["setl_id"], lines.row["setl_id"], during.row["setl_id"]]
    c1 = claims.row(0, named=True)
    # the child's share of 300.00 was paid from the parent's account (家庭共济): O1 is the payer
    assert (c1["psn_no"], c1["sex"], c1["payer_psn_no"], c1["in_stay"], c1["level"]) == ("C1", "2", "O1", False, 1)
    assert claims.row(2, named=True)["in_stay"] is True  # admitted on 1 April, settled on 2 April
    assert line_rows.select("key", "sn", "code", "quantity", "price", "amount", "kind").rows() == [
        # 12.3456 x 2 = 24.6912 -> 24.69; the unit price 12.3456 -> 12.35 (fen, half-up)
        (lines.row["setl_id"], 1, "D01", Decimal("2"), 1235, fen("24.69"), "drug"),
        # 40 x 1.5 = 60.00
        (lines.row["setl_id"], 2, "S01", Decimal("1.5"), 4000, fen("60.00"), "service"),
    ]
    assert [c.key for c in claims_of(*_loaded(engine, psn_no="O1"))] == [lines.row["setl_id"], during.row["setl_id"]]
    assert claims_of(claims, line_rows)[1].lines[1].code == "S01"


def test_a_member_s_claims_read_directly_equal_those_of_the_frames(engine, book):
    setup(engine, book, [person("O1", date(1970, 1, 1))])
    items = [item("D01"), {**item("S01"), "list_type": "service"}]
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, items), book)
    for day in (1, 2):
        settle(engine, book, parse_settle({"psn_no": "O1", "fixmedins_code": H1, "date": f"2024-03-0{day}",
                                           "lines": [{"med_list_codg": "D01", "pric": "1.5", "cnt": "3"},
                                                     {"med_list_codg": "S01", "pric": "40", "cnt": "1"}]}))
    with engine.connect() as conn:
        direct, kinds = member_claims(conn, "O1", date(2024, 1, 1), date(2024, 12, 31))
        framed = claims_of(*claim_frames(conn, date(2024, 1, 1), date(2024, 12, 31), "O1"))
    assert direct == framed and len(direct) == 2
    assert kinds == {"D01": "drug", "S01": "service"}
