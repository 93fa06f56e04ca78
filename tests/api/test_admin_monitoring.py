"""The admin API's review queue and credit records from the outside, on SQLite and PostgreSQL: every role reads,
only operators and admins decide (an auditor reads but decides nothing), the reviewer is the authenticated user,
every decision writes an audit log row, and a refusal changes nothing.

The registry is tests/services/test_monitor_queue_db.py's: M1's visit at H1 with lines D01 500.00, D02 300.01,
D03 199.99, of which the pool paid (1000.00 - 600.00) x 70 % = 280.00."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gongji.api.app import create_app
from gongji.services.users import ROLES, add_user
from gongji.store.tables import audit_log
from tests.api.staff import bearer
from tests.factories import assert_clean, snapshot
from tests.services.test_monitor_queue_db import finding, key, put, registry
from tests.services.test_settlement_db import H1, pool

API = "/api/v1"


@pytest.fixture
def reg(engine, book) -> dict:
    """The registry, three pending hits on M1's visit (sex on line 2, level on line 1, frequent_visits on the
    claim) and a user of every role named after it."""
    setl_id = registry(engine, book)
    sex, level, visits = (finding("sex", setl_id, 2, 30001), finding("level", setl_id, 1),
                          finding("frequent_visits", setl_id, None, 28000))
    put(engine, sex, level, visits)
    return {"sex": key(sex), "level": key(level), "visits": key(visits),
            "tokens": {role: add_user(engine, role, role) for role in ROLES}}


@pytest.fixture
def client(engine, book) -> TestClient:
    return TestClient(create_app(engine, book))


def call(client, method: str, path: str, token: str | None = None, body: dict | None = None):
    return client.request(method, API + path, json=body, headers=bearer(token) if token else {})


def log(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads(role, reg, client):
    token = reg["tokens"][role]
    page = call(client, "GET", "/monitor/hits?status=pending", token)
    assert page.status_code == 200, page.text
    assert page.json()["total"] == 3
    assert {h["hit_id"] for h in page.json()["items"]} == {reg["sex"], reg["level"], reg["visits"]}
    detail = call(client, "GET", f"/monitor/hits/{reg['sex']}", token).json()
    assert detail["hit"]["amount"] == "300.01" and detail["settlement"]["fund_pay"] == "280.00"
    assert detail["evidence"] == [{"name": "code", "value": "D02"}, {"name": "why", "value": "test"}]
    assert call(client, "GET", f"/monitor/credit/institution/{H1}", token).json()["score"] == 100


def test_an_auditor_or_a_stranger_cannot_decide(reg, client, engine):
    before = snapshot(engine)
    for action in ("confirm", "dismiss"):
        answer = call(client, "POST", f"/monitor/hits/{reg['sex']}/{action}", reg["tokens"]["auditor"], {})
        assert answer.status_code == 403 and "may not" in answer.json()["detail"]
        assert call(client, "POST", f"/monitor/hits/{reg['sex']}/{action}", None, {}).status_code == 401
    assert call(client, "GET", "/monitor/hits", None).status_code == 401
    assert snapshot(engine) == before


def test_decisions_by_the_authenticated_user_are_logged(reg, client, engine):
    pool_before = pool(engine)
    confirmed = call(client, "POST", f"/monitor/hits/{reg['sex']}/confirm", reg["tokens"]["operator"],
                     {"notes": "性别不符"})
    assert confirmed.status_code == 200, confirmed.text
    hit = confirmed.json()["hit"]
    # line 2's share: 28000 x 30001 / 100000 = 8400.28 -> 84.00 yuan back to the pool
    assert (hit["status"], hit["reviewer"], hit["notes"], hit["clawed_back"]) == \
        ("confirmed", "operator", "性别不符", "84.00")
    assert pool(engine) == pool_before + 8400
    (event,) = confirmed.json()["credit_events"]
    assert (event["subject_kind"], event["subject"], event["points"]) == ("institution", H1, -10)

    dismissed = call(client, "POST", f"/monitor/hits/{reg['visits']}/dismiss", reg["tokens"]["admin"], {})
    assert dismissed.json()["hit"]["status"] == "dismissed" and dismissed.json()["hit"]["reviewer"] == "admin"

    first, second = log(engine)
    assert (first["actor"], first["action"], first["target"]) == ("operator", "monitor.confirm", reg["sex"])
    before, after = json.loads(first["before"]), json.loads(first["after"])
    assert (before["status"], after["status"], after["clawed_back"], after["reviewer"]) == \
        ("pending", "confirmed", 8400, "operator")
    assert [e["points"] for e in after["credit_events"]] == [-10]
    assert (second["actor"], second["action"], second["target"]) == ("admin", "monitor.dismiss", reg["visits"])
    assert json.loads(second["after"])["credit_events"] == []

    record = call(client, "GET", f"/monitor/credit/institution/{H1}", reg["tokens"]["auditor"]).json()
    assert (record["score"], [e["hit_id"] for e in record["events"]]) == (90, [reg["sex"]])  # 100 - 10
    listed = call(client, "GET", "/monitor/hits?status=confirmed", reg["tokens"]["auditor"]).json()
    assert [h["hit_id"] for h in listed["items"]] == [reg["sex"]]
    assert_clean(engine)


def test_refusals_change_nothing_and_log_nothing(reg, client, engine):
    operator = reg["tokens"]["operator"]
    call(client, "POST", f"/monitor/hits/{reg['sex']}/confirm", operator, {})
    before = snapshot(engine)
    again = call(client, "POST", f"/monitor/hits/{reg['sex']}/confirm", operator, {})
    assert again.status_code == 422 and "already confirmed by operator" in again.json()["detail"]
    assert call(client, "POST", f"/monitor/hits/{reg['sex']}/dismiss", operator, {}).status_code == 422
    for path in ("/monitor/hits/HTNOPE", "/monitor/credit/member/NOBODY", f"/monitor/credit/institution/{H1}X"):
        answer = call(client, "GET", path, operator)
        assert answer.status_code == 404, path
    missing = call(client, "POST", "/monitor/hits/HTNOPE/confirm", operator, {})
    assert missing.status_code == 404 and "HTNOPE" in missing.json()["detail"]
    assert call(client, "POST", f"/monitor/hits/{reg['level']}/dismiss", operator,
                {"notes": "x", "reviewer": "someone else"}).status_code == 422  # the reviewer is the user
    assert call(client, "GET", "/monitor/hits?status=open", operator).status_code == 422
    assert call(client, "GET", "/monitor/hits?rule=sexx", operator).status_code == 422
    assert call(client, "GET", "/monitor/credit/doctor/D1", operator).status_code == 422
    assert snapshot(engine) == before
