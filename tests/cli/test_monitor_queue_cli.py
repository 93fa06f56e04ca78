"""`gongji monitor queue|show|confirm|dismiss|credit` from the outside, on SQLite and PostgreSQL: what they print,
and bad input refused with exit status 2, one line naming the field and value, and nothing changed.

The registry is tests/services/test_monitor_queue_db.py's: M1's visit at H1 with lines D01 500.00, D02 300.01,
D03 199.99, of which the pool paid (1000.00 - 600.00) x 70 % = 280.00."""

from __future__ import annotations

import json

from tests.cli.test_ops import refused, run
from tests.factories import assert_clean, snapshot
from tests.services.test_monitor_queue_db import finding, key, put, registry
from tests.services.test_settlement_db import H1


def test_the_queue_from_listing_to_decisions(engine, db_url, book):
    setl_id = registry(engine, book)
    sex, visits = finding("sex", setl_id, 2, 30001), finding("frequent_visits", setl_id, None, 28000)
    put(engine, sex, visits)

    listed = run(db_url, "monitor", "queue")
    assert listed.exit_code == 0, listed.output
    assert key(sex) in listed.stdout and key(visits) in listed.stdout and listed.stdout.endswith("2 hits\n")
    as_json = json.loads(run(db_url, "monitor", "queue", "--rule", "sex", "--json").stdout)
    assert [(h["hit_id"], h["amount"], h["status"]) for h in as_json] == [(key(sex), "300.01", "pending")]
    assert json.loads(run(db_url, "monitor", "queue", "--institution", "H32100000002", "--json").stdout) == []

    shown = run(db_url, "monitor", "show", key(sex))
    assert shown.exit_code == 0, shown.output
    assert f"{key(sex)}: sex (" in shown.stdout and "evidence: code=D02; why=test" in shown.stdout
    assert "2 *" in shown.stdout  # the hit's line marked in the settlement's lines
    detail = json.loads(run(db_url, "monitor", "show", key(sex), "--json").stdout)
    assert detail["settlement"]["fund_pay"] == "280.00" and detail["hit"]["line"] == 2

    confirmed = run(db_url, "monitor", "confirm", key(sex), "--reviewer", "王审核", "--notes", "已核实")
    assert confirmed.exit_code == 0, confirmed.output
    # line 2's share: 28000 x 30001 / 100000 = 8400.28 -> 84.00 yuan; sex is 明确违规, the institution's: -10
    assert confirmed.stdout == (f"{key(sex)}: confirmed by 王审核; 84.00 yuan clawed back to the pool of 321000; "
                                f"-10 points on institution {H1}\n")
    dismissed = run(db_url, "monitor", "dismiss", key(visits), "--reviewer", "王审核")
    assert dismissed.stdout == f"{key(visits)}: dismissed by 王审核\n"
    assert run(db_url, "monitor", "queue").stdout == "no pending hits\n"
    every = json.loads(run(db_url, "monitor", "queue", "--status", "all", "--json").stdout)
    assert {h["hit_id"]: (h["status"], h["clawed_back"]) for h in every} == \
        {key(sex): ("confirmed", "84.00"), key(visits): ("dismissed", "0.00")}

    record = json.loads(run(db_url, "monitor", "credit", "institution", H1, "--json").stdout)
    assert (record["score"], [e["points"] for e in record["events"]]) == (90, [-10])  # 100 - 10
    text = run(db_url, "monitor", "credit", "member", "M1").stdout
    assert text == "member M1: score 100\n"  # the dismissed hit was the member's: no points
    assert_clean(engine)


def test_refusals_say_what_and_change_nothing(engine, db_url, book):
    setl_id = registry(engine, book)
    sex = finding("sex", setl_id, 2)
    put(engine, sex)
    run(db_url, "monitor", "dismiss", key(sex), "--reviewer", "王审核")
    before = snapshot(engine)
    refused(run(db_url, "monitor", "show", "HTNOPE"), "hit_id", "HTNOPE")
    refused(run(db_url, "monitor", "confirm", "HTNOPE", "--reviewer", "王审核"), "hit_id", "HTNOPE")
    refused(run(db_url, "monitor", "confirm", key(sex), "--reviewer", "王审核"), "already dismissed")
    refused(run(db_url, "monitor", "dismiss", key(sex), "--reviewer", " "), "reviewer: missing")
    refused(run(db_url, "monitor", "queue", "--status", "open"), "status", "open")
    refused(run(db_url, "monitor", "queue", "--rule", "sexx"), "rule", "sexx")
    refused(run(db_url, "monitor", "credit", "doctor", "D1"), "subject_kind", "doctor")
    refused(run(db_url, "monitor", "credit", "institution", "H99"), "institution", "H99")
    assert snapshot(engine) == before
    missing = run(db_url, "monitor", "confirm", key(sex))  # --reviewer is required
    assert missing.exit_code == 2 and "--reviewer" in missing.output
