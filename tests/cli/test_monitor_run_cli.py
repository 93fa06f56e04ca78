"""`gongji monitor run` and `monitor scores` on both backends."""

from __future__ import annotations

import json

from tests.cli.test_ops import refused, run
from tests.factories import snapshot
from tests.services.test_monitoring_db import _forget_hits, claims  # noqa: F401  (the fixture)


def test_a_run_puts_the_period_s_findings_in_the_queue(engine, db_url, claims):  # noqa: F811
    _forget_hits(engine)  # the settlements' own checks queued them: start from an empty queue
    done = json.loads(run(db_url, "monitor", "run", "--from", "2024-03-01", "--to", "2024-03-31", "--json").stdout)
    # March: the man's D01 (restricted to women) is the one finding; 50.00 at stake
    assert (done["claims"], done["findings"], done["added"], done["known"]) == (2, 1, 1, 0)
    assert done["by_rule"] == [{"rule": "sex", "cls": "明确违规", "hits": 1, "amount": "50.00"}]
    queued = json.loads(run(db_url, "monitor", "queue", "--json").stdout)
    assert [(h["rule"], h["setl_id"]) for h in queued] == [("sex", claims["march"])]
    table = run(db_url, "monitor", "run", "--from", "2024-03-01", "--to", "2024-03-31")
    assert table.exit_code == 0 and "0 new in the queue, 1 already there" in table.stdout


def test_scores_list_institutions_and_members(db_url, claims):  # noqa: F811
    shown = json.loads(run(db_url, "monitor", "scores", "--from", "2024-01-01", "--to", "2024-12-31",
                           "--region", "321000", "--json").stdout)
    assert [r["entity"] for r in shown["institutions"]] == ["H32100000001"]
    assert {r["entity"] for r in shown["members"]} == {"M1", "W1"}


def test_bad_periods_are_refused(engine, db_url, claims):  # noqa: F811
    before = snapshot(engine)
    refused(run(db_url, "monitor", "run", "--from", "2024-13-01", "--to", "2024-12-31"), "--from", "2024-13-01")
    refused(run(db_url, "monitor", "run", "--from", "2024-03-31", "--to", "2024-03-01"), "--to", "2024-03-01")
    refused(run(db_url, "monitor", "scores", "--from", "2024-01-01", "--to", "2024-12-31", "--region", "999999"),
            "--region", "999999")
    assert snapshot(engine) == before
