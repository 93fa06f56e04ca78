"""`gongji monitor run`: every rule over stored claims of a period, the findings in the queue, on both backends."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete

from gongji.errors import InputError
from gongji.services import monitor_queue, monitoring
from gongji.services.imports import import_csv
from gongji.services.knowledge_import import import_csv as import_knowledge
from gongji.services.settlement import parse_settle, settle
from gongji.store.db import transaction
from gongji.store.tables import monitor_hits
from tests.factories import csv_bytes, person, snapshot
from tests.services.test_imports import CATALOGUE_COLUMNS, item
from tests.services.test_knowledge_import_db import kb_csv, row
from tests.services.test_settlement_db import H1, setup, visit


def _sale(engine, book, psn_no: str, on: str, code: str = "D01") -> str:
    done = settle(engine, book, parse_settle({"psn_no": psn_no, "fixmedins_code": H1, "date": on,
                                              "lines": [{"med_list_codg": code, "pric": "50", "cnt": "1"}]}))
    return done.row["setl_id"]


@pytest.fixture
def claims(engine, book):
    """M1 (a man) and W1 (a woman); D01 is paid for women only (the knowledge base); M1 is given D01 in March
    and in May, W1 in March."""
    setup(engine, book, [person("M1", date(1970, 1, 1)), person("W1", date(1972, 1, 1), gend="2", serial=2)])
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("D01"), item("D02")]), book)
    import_knowledge(engine, kb_csv(row("D01", "sex", "2")))
    return {"march": _sale(engine, book, "M1", "2024-03-01"), "woman": _sale(engine, book, "W1", "2024-03-02"),
            "may": _sale(engine, book, "M1", "2024-05-01")}


def _pending(engine) -> set[tuple[str, str, int | None]]:
    with engine.connect() as conn:
        return {(h["rule"], h["setl_id"], h["line"]) for h in monitor_queue.queue(conn)}


def _forget_hits(engine) -> None:
    with transaction(engine) as conn:
        conn.execute(delete(monitor_hits))


def test_each_settlement_queued_its_own_findings_and_a_run_finds_the_same(engine, book, claims):
    # the checks inside each settlement (事中) queued the man's two D01 lines (restricted to women), moment "pre"
    with engine.connect() as conn:
        assert {(h["setl_id"], h["moment"]) for h in monitor_queue.queue(conn)} == \
            {(claims["march"], "pre"), (claims["may"], "pre")}
    before = snapshot(engine)
    # March has two claims; the run finds the same finding the settlement did: nothing new
    result = monitoring.run(engine, book, date(2024, 3, 1), date(2024, 3, 31))
    assert (result.claims, result.findings.height, result.added, result.known) == (2, 1, 0, 1)
    assert snapshot(engine) == before


def test_a_run_queues_the_period_s_violations_and_a_rerun_adds_nothing(engine, book, claims):
    _forget_hits(engine)
    result = monitoring.run(engine, book, date(2024, 3, 1), date(2024, 3, 31))
    # March has two claims; only the man's D01 breaks the restriction to women (line 1)
    assert (result.claims, result.added, result.known) == (2, 1, 0)
    assert _pending(engine) == {("sex", claims["march"], 1)}
    before = snapshot(engine)
    again = monitoring.run(engine, book, date(2024, 3, 1), date(2024, 3, 31))
    assert (again.added, again.known) == (0, 1)
    assert snapshot(engine) == before
    # the whole spring adds May's
    assert monitoring.run(engine, book, date(2024, 3, 1), date(2024, 5, 31)).added == 1
    assert _pending(engine) == {("sex", claims["march"], 1), ("sex", claims["may"], 1)}


def test_history_before_the_period_is_read_but_not_reported(engine, book, claims):
    # eight more visits of M1 in May: nine clinic visits within 30 days, above the 8 of an in-service member
    # (321000.yaml monitoring.visits) -- frequent_visits fires once, on the ninth; the March claim, read as
    # history only, is not reported again
    for day in range(2, 10):
        visit(engine, book, "M1", "10.00", on=date(2024, 5, day))
    result = monitoring.run(engine, book, date(2024, 5, 1), date(2024, 5, 31))
    rules = {(f["rule"], f["claim"]) for f in result.findings.iter_rows(named=True)}
    assert ("sex", claims["march"]) not in rules and ("sex", claims["may"]) in rules
    assert sum(1 for rule, _claim in rules if rule == "frequent_visits") == 1


def test_a_period_backwards_is_refused(engine, book, claims):
    before = snapshot(engine)
    with pytest.raises(InputError, match="--to: 2024-03-01 is before --from 2024-03-31"):
        monitoring.run(engine, book, date(2024, 3, 31), date(2024, 3, 1))
    assert snapshot(engine) == before


def test_scores_rank_the_region_s_members(engine, book, claims):
    institutions, members, accounts = monitoring.scores(engine, book, date(2024, 1, 1), date(2024, 12, 31),
                                                        "321000")
    assert institutions.frame["entity"].to_list() == [H1]
    assert set(members.frame["entity"].to_list()) == {"M1", "W1"}
    # nobody's account paid for a relative: the accounts are the members
    assert set(accounts.frame["entity"].to_list()) == {"M1", "W1"}
