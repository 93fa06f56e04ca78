"""The monitoring rules inside a settlement (事中), on both backends: warnings in setl_proc_info and the queue, a
refusal naming the rule's code, and a monitor that fails never stopping a settlement."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from gongji.errors import InputError
from gongji.monitor import kb_store, rulebook
from gongji.monitor.knowledge import Restriction
from gongji.services import family, monitor_online, monitor_queue, monitoring
from gongji.services.imports import import_csv
from gongji.services.knowledge_import import import_csv as import_knowledge
from gongji.services.settlement import parse_settle, pre_settle, settle
from gongji.store.db import transaction
from tests.factories import csv_bytes, fen, person, snapshot
from tests.services.test_imports import CATALOGUE_COLUMNS, item
from tests.services.test_knowledge_import_db import kb_csv, row
from tests.services.test_settlement_db import H1, setup, visit


@pytest.fixture
def shop(engine, book):
    """M1, a man; D01 is paid for women only, N01 never by the fund (the knowledge base), D02 unrestricted."""
    setup(engine, book, [person("M1", date(1970, 1, 1), balc="0.00")])
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("D01"), item("D02"), item("N01")]), book)
    import_knowledge(engine, kb_csv(row("D01", "sex", "2"), row("N01", "not_paid")))


def _request(*codes: str):
    return parse_settle({"psn_no": "M1", "fixmedins_code": H1, "date": "2024-03-01",
                         "lines": [{"med_list_codg": code, "pric": "700", "cnt": "1"} for code in codes]})


def test_a_warning_is_said_and_queued_with_the_settlement(engine, book, shop):
    done = settle(engine, book, _request("D02", "D01"))
    # the settlement goes ahead: 1400.00 covered, deductible 600, (1400 - 600) x 70 % = 560.00 at level 1
    assert done.row["hifp_pay"] == fen("560.00")
    # line 2 (D01, for women only) is a definite violation of 药品区分性别使用, said in setl_proc_info
    assert "智能监控提示 GZ10000301004000（明确违规）：code=D01; limit=2; sex=1" in done.row["proc_info_zh"]
    with engine.connect() as conn:
        [hit] = monitor_queue.queue(conn)
    assert (hit["rule"], hit["setl_id"], hit["line"], hit["moment"], hit["amount"]) == \
        ("sex", done.row["setl_id"], 2, "pre", fen("700.00"))


def test_a_rule_the_region_refuses_with_stops_the_settlement(engine, book, shop):
    before = snapshot(engine)
    # 321000.yaml monitoring.refuse lists not_paid: N01 is never paid by the fund (中药饮片单复方均不予支付)
    with pytest.raises(InputError, match=r"monitoring GZ10000101003000 not_paid \(line 2\): code=N01") as refused:
        settle(engine, book, _request("D02", "N01"))
    assert "智能监控 GZ10000101003000 明确违规" in refused.value.zh
    assert snapshot(engine) == before


def test_pre_settlement_warns_and_stores_nothing(engine, book, shop):
    before = snapshot(engine)
    preview = pre_settle(engine, book, _request("D01"))
    assert "GZ10000301004000" in preview.row["proc_info_zh"]
    assert snapshot(engine) == before


def test_a_monitor_that_fails_never_stops_a_settlement(engine, book, shop, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the knowledge base is unreachable")

    monkeypatch.setattr(rulebook, "check_claim", broken)
    done = settle(engine, book, _request("D01"))
    # 700.00 covered, all of it within the deductible of 600 and 100 x 70 % = 70.00; no warning, nothing queued
    assert done.row["hifp_pay"] == fen("70.00")
    assert not (done.row["proc_info_zh"] or "").count("智能监控")
    with engine.connect() as conn:
        assert monitor_queue.queue(conn) == []
    assert "settled unchecked" in caplog.text


def test_a_family_account_paying_for_a_fourth_person_is_warned_and_the_run_agrees(engine, book):
    # O1's account pays for four relatives in four days; 321000.yaml monitoring.family_people is 3, so the
    # fourth payment (4 people > 3 within window_days) is 家庭共济账户异常使用, a warning, and only that one
    relatives = [("S1", date(1971, 1, 1), "2", "spouse"), ("F1", date(1940, 1, 1), "1", "parent"),
                 ("N1", date(1942, 1, 1), "2", "parent"), ("C1", date(1998, 1, 1), "1", "child")]
    people = [person("O1", date(1970, 1, 1), balc="5000.00")] + [
        person(p, born, gend=gend, balc="0.00", serial=n + 2) for n, (p, born, gend, _r) in enumerate(relatives)]
    setup(engine, book, people, [("O1", p, relation) for p, _b, _g, relation in relatives])
    done = []
    for day, (p, *_rest) in enumerate(relatives, start=1):
        family.authorize(engine, "O1", p)
        # 100.00 covered is below every deductible: O1's account pays all of it (acct_mulaid_pay)
        done.append(visit(engine, book, p, "100.00", on=date(2024, 3, day)).row)
        assert done[-1]["acct_mulaid_pay"] == fen("100.00")
    assert ["智能监控提示" in (d["proc_info_zh"] or "") for d in done] == [False, False, False, True]
    with engine.connect() as conn:
        [hit] = monitor_queue.queue(conn)
    assert (hit["rule"], hit["setl_id"], hit["moment"]) == ("family_account", done[3]["setl_id"], "pre")
    # the run over March finds the same finding and adds nothing
    result = monitoring.run(engine, book, date(2024, 3, 1), date(2024, 3, 31))
    assert (result.findings.height, result.added, result.known) == (1, 0, 1)


def test_a_knowledge_base_changed_elsewhere_applies_within_the_stamp_interval(engine, book, shop, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(monitor_online.time, "monotonic", lambda: clock[0])
    assert settle(engine, book, _request("D02")).row["proc_info_zh"] is None  # D02 unrestricted: nothing to say
    # another process (not this one's import) limits D02 to women: written straight to the table
    with transaction(engine) as conn:
        kb_store.save_restrictions(conn, [Restriction("D02", "sex", "2", "", "", date(2024, 1, 1), None, "test")],
                                   [], datetime(2024, 1, 1))
    clock[0] += monitor_online.STAMP_SECONDS / 2  # within the interval the base in memory is used
    assert "智能监控" not in (settle(engine, book, _request("D02")).row["proc_info_zh"] or "")
    clock[0] += monitor_online.STAMP_SECONDS  # past it the stamp is read again: the new restriction applies
    assert "GZ10000301004000" in settle(engine, book, _request("D02")).row["proc_info_zh"]
