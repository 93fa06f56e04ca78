"""The admin API from the outside, on SQLite and PostgreSQL: who may call what, round trips through the
services, the audit log written with every change and never changed itself, ID numbers masked in lists, and
bad input refused with nothing changed."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gongji.api.app import create_app
from gongji.masking import mask_certno
from gongji.monitor.batch import FINDING_COLUMNS
from gongji.monitor.checkers import RULES
from gongji.services import audit_log as audit_log_service
from gongji.services import monitor_queue, prescriptions, qualifications, registrations, stays
from gongji.store.db import transaction
from gongji.store.tables import audit_log, users
from tests.api.staff import FATHER, H1, NEW, SON, SPOUSE, as_json, bearer, registry
from tests.factories import assert_clean, snapshot

API = "/api/v1"
EVERYONE, STAFF, ADMINS = ("auditor", "operator", "admin"), ("operator", "admin"), ("admin",)
RX_BODY = {"fixmedins_code": H1, "hosp_rxno": "HIS-RX-2", "psn_no": "P2", "prsc_dr_name": "王医生",
           "diag_code": "I10.x00", "diag_name": "高血压", "prsc_date": "2024-03-01",
           "drugs": [{"med_list_codg": "XD01", "drug_genname": "氨氯地平片", "drug_cnt": "30", "medc_days": 30}]}
"""A prescription H1 writes for SON."""

ROUTES = [
    # (method, path, body, roles that may, status for them)
    ("GET", "/persons", None, EVERYONE, 200),
    ("GET", "/persons/P1", None, EVERYONE, 200),
    ("GET", "/persons/P1/relations", None, EVERYONE, 200),
    ("GET", "/persons/P1/authorizations", None, EVERYONE, 200),
    ("GET", "/accounts/P1", None, EVERYONE, 200),
    ("GET", "/accounts/P1/movements", None, EVERYONE, 200),
    ("GET", "/settlements", None, EVERYONE, 200),
    ("GET", "/settlements/{setl_id}", None, EVERYONE, 200),
    ("GET", "/crediting-runs", None, EVERYONE, 200),
    ("GET", "/policies", None, EVERYONE, 200),
    ("GET", "/policies/321000", None, EVERYONE, 200),
    ("GET", "/audit", None, EVERYONE, 200),
    ("GET", "/audit-log", None, ADMINS, 200),
    ("GET", "/users", None, ADMINS, 200),
    ("GET", "/prescriptions/{rxno}", None, EVERYONE, 200),
    ("GET", "/persons/P1/qualifications", None, EVERYONE, 200),
    ("GET", "/persons/P2/registrations", None, EVERYONE, 200),
    ("GET", "/persons/P2/stays", None, EVERYONE, 200),
    ("GET", "/clearing?month=2024-03", None, EVERYONE, 200),
    ("POST", "/persons", as_json(NEW), STAFF, 201),
    ("POST", "/persons/P2/status", {"psn_insu_stas": "2", "on": "2024-06-01", "reason": "paused"}, STAFF, 200),
    ("POST", "/relations", {"psn_no": "P2", "relative_certno": SPOUSE, "relative_name": "配偶",
                            "relation": "spouse"}, STAFF, 201),
    ("POST", "/authorizations", {"owner_psn_no": "P2", "user_psn_no": "P1"}, STAFF, 201),
    ("DELETE", "/authorizations/P1/P2", None, STAFF, 200),
    ("POST", "/crediting-runs", {"month": "2024-01"}, STAFF, 200),
    ("POST", "/prescriptions", RX_BODY, STAFF, 201),
    ("POST", "/prescriptions/{rxno}/revoke", {"fixmedins_code": H1}, STAFF, 200),
    ("POST", "/persons/P1/qualifications", {"opsp_dise_code": "M01600", "begndate": "2024-01-01"}, STAFF, 201),
    ("POST", "/persons/P1/qualifications/{sn}/cancel", {"memo": "复核不符"}, STAFF, 200),
    ("POST", "/persons/P1/registrations", {"mdtrtarea_admvs": "530100", "reason": "resident",
                                           "begndate": "2024-01-01"}, STAFF, 201),
    ("POST", "/persons/P2/registrations/{registration_id}/revoke", None, STAFF, 200),
    ("POST", "/persons/P1/stays", {"fixmedins_code": H1, "admitted_on": "2024-06-01"}, STAFF, 201),
    ("POST", "/persons/P2/stays/discharge", {"discharged_on": "2024-06-10"}, STAFF, 200),
    ("GET", "/monitor/hits", None, EVERYONE, 200),
    ("GET", "/monitor/hits/{hit}", None, EVERYONE, 200),
    ("GET", "/monitor/credit/institution/" + H1, None, EVERYONE, 200),
    ("GET", "/monitor/prechecks?answer=none", None, EVERYONE, 200),
    ("POST", "/monitor/hits/{hit}/confirm", {}, STAFF, 200),
    ("POST", "/monitor/hits/{hit2}/dismiss", {}, STAFF, 200),
]
"""Every route once, reads first; the changes succeed one after another on the registry."""



def benefits_registry(engine, book) -> dict:
    """Beside `registry`: a prescription H1 wrote for FATHER (rxno), FATHER's qualification for 高血压 M03900 (sn),
    SON's registration for Kunming 530100 (registration_id) and SON's open stay at H1 from 2024-06-01."""
    body = {k: v for k, v in RX_BODY.items() if k != "fixmedins_code"} | {"hosp_rxno": "HIS-RX-1", "psn_no": "P1"}
    rxno = prescriptions.record_prescription(engine, book, H1, body)["rxno"]
    with transaction(engine) as conn:
        sn = qualifications.record(conn, book, qualifications.parse_qualification(
            {"psn_no": "P1", "opsp_dise_code": "M03900", "begndate": "2024-01-01"}))["trt_dcla_detl_sn"]
        registration_id = registrations.record(conn, registrations.parse_registration(
            {"psn_no": "P2", "mdtrtarea_admvs": "530100", "reason": "temporary", "begndate": "2024-01-01"}))["id"]
        stays.admit_in(conn, "P2", H1, date(2024, 6, 1))
    return {"rxno": rxno, "sn": sn, "registration_id": registration_id}


def monitor_registry(engine, setl_id: str) -> dict:
    """Two pending hits on FATHER's visit, for the monitoring routes (hit, hit2)."""
    rows = [{"rule": rule, "code": next(iter(RULES[rule].codes.values())), "cls": RULES[rule].cls, "claim": setl_id,
             "line": None, "amount": 0, "evidence": "why=test"} for rule in ("frequent_visits", "during_stay")]
    with transaction(engine) as conn:
        monitor_queue.record(conn, pl.DataFrame(rows, schema=FINDING_COLUMNS), "post")
    return {"hit": monitor_queue.hit_id(*(rows[0][k] for k in ("rule", "claim", "line", "code"))),
            "hit2": monitor_queue.hit_id(*(rows[1][k] for k in ("rule", "claim", "line", "code")))}


@pytest.fixture
def reg(engine, book) -> dict:
    done = registry(engine, book)
    return done | benefits_registry(engine, book) | monitor_registry(engine, done["setl_id"])


@pytest.fixture
def client(engine, book) -> TestClient:
    return TestClient(create_app(engine, book))


def call(client: TestClient, method: str, path: str, token: str | None = None, body: dict | None = None):
    return client.request(method, API + path, json=body, headers=bearer(token) if token else {})


def audit_rows(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]


# --- who may call what --------------------------------------------------------------------------------------

def test_the_role_table_names_every_route(client):
    documented = {(method.upper(), re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"))
                  for path, item in client.app.openapi()["paths"].items() if path.startswith(API) for method in item}
    matched = {(m, pattern.pattern) for m, pattern in documented for method, path, *_ in ROUTES
               if m == method and pattern.match(API + path.split("?")[0])}
    assert matched == {(m, pattern.pattern) for m, pattern in documented}
    assert len(ROUTES) == len(documented)


@pytest.mark.parametrize("role", EVERYONE)
def test_each_role_gets_what_the_table_says(role, reg, client, engine):
    before = snapshot(engine)
    wrong = []
    for method, path, body, allowed, ok in ROUTES:
        response = call(client, method, path.format(**reg), reg["tokens"][role], body)
        expected = ok if role in allowed else 403
        if response.status_code != expected:
            wrong.append((method, path, expected, response.status_code, response.text[:200]))
        if expected == 403:
            assert "may not" in response.json()["detail"]
    assert wrong == []
    if role == "auditor":  # reads only and refusals: nothing changed
        assert snapshot(engine) == before
    assert_clean(engine)


def test_every_route_needs_a_known_bearer_token(reg, client, engine):
    before = snapshot(engine)
    for method, path, body, *_ in ROUTES:
        url = API + path.format(**reg)
        for headers in ({}, bearer("not-a-token"), {"Authorization": f"Basic {reg['tokens']['admin']}"}):
            response = client.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert snapshot(engine) == before


def test_tokens_are_stored_only_as_hashes(reg, engine):
    with engine.connect() as conn:
        stored = conn.execute(select(users.c.token_hash)).scalars().all()
    assert len(stored) == 3 and not set(stored) & set(reg["tokens"].values())


# --- round trips --------------------------------------------------------------------------------------------

def test_create_read_and_change_status_of_a_person(reg, client, engine):
    operator, admin = reg["tokens"]["operator"], reg["tokens"]["admin"]
    created = call(client, "POST", "/persons", operator, as_json(NEW))
    assert created.status_code == 201, created.text
    assert created.json()["certno"] == NEW["certno"] and created.json()["crt_cont_base"] == "6000.00"
    read = call(client, "GET", "/persons/P9", operator).json()
    assert read == created.json()
    account = call(client, "GET", "/accounts/P9", operator).json()
    assert account["balc"] == "50.00" and account["movements"][0]["kind"] == "opening"
    movements = call(client, "GET", "/accounts/P9/movements", operator).json()
    assert movements["total"] == 1 and movements["items"][0]["amount"] == "50.00"

    changed = call(client, "POST", "/persons/P9/status", operator,
                   {"psn_insu_stas": "2", "on": "2024-05-01", "reason": "paused"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"psn_no": "P9", "psn_insu_stas": "2", "stas_reason": "paused",
                              "stas_date": "2024-05-01", "paid_to_heir": "0.00"}
    assert call(client, "GET", "/persons/P9", operator).json()["psn_insu_stas"] == "2"

    log = call(client, "GET", "/audit-log?target=P9", admin).json()
    assert [e["action"] for e in log] == ["person.status", "person.create"]  # newest first
    status, create = log
    assert status["actor"] == create["actor"] == "operator"
    assert status["before"] == {"psn_insu_stas": "1", "stas_reason": None, "stas_date": None}
    assert status["after"] == {"psn_insu_stas": "2", "stas_reason": "paused", "stas_date": "2024-05-01"}
    assert create["before"] is None
    assert create["after"]["certno"] == mask_certno(NEW["certno"]) and create["after"]["balc"] == 5000  # fen
    assert_clean(engine)


def test_death_pays_the_heir_and_closes_the_account(reg, client, engine):
    operator = reg["tokens"]["operator"]
    response = call(client, "POST", "/persons/P2/status", operator,
                    {"psn_insu_stas": "4", "on": "2024-08-01", "reason": "death", "heir": "王芳"})
    assert response.status_code == 200, response.text
    assert response.json()["paid_to_heir"] == "200.00"
    assert call(client, "GET", "/accounts/P2", operator).json()["closed_on"] == "2024-08-01"
    assert_clean(engine)


def test_authorize_and_revoke(reg, client, engine):
    operator, admin = reg["tokens"]["operator"], reg["tokens"]["admin"]
    granted = call(client, "POST", "/authorizations", operator, {"owner_psn_no": "P2", "user_psn_no": "P1"})
    assert granted.status_code == 201, granted.text
    assert granted.json()["relation"] == "parent" and granted.json()["revoked_at"] is None
    listed = call(client, "GET", "/persons/P1/authorizations", operator).json()
    assert [(a["owner_psn_no"], a["user_psn_no"], a["revoked_at"]) for a in listed] == [
        ("P1", "P2", None), ("P2", "P1", None)]

    revoked = call(client, "DELETE", "/authorizations/P2/P1", operator)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert call(client, "GET", "/accounts/P2", operator).json()["authorized"] == []
    before = snapshot(engine)
    again = call(client, "DELETE", "/authorizations/P2/P1", operator)
    assert again.status_code == 404 and "is not authorized" in again.json()["detail"]
    assert snapshot(engine) == before

    grant, revoke = [e for e in reversed(call(client, "GET", "/audit-log?target=P2", admin).json())]
    assert (grant["action"], grant["before"]) == ("authorization.grant", None)
    assert grant["after"]["user_psn_no"] == "P1" and grant["after"]["revoked_at"] is None
    assert revoke["action"] == "authorization.revoke"
    assert revoke["before"]["revoked_at"] is None and revoke["after"]["revoked_at"] is not None


def test_relations_are_created_and_listed_masked(reg, client, engine):
    operator = reg["tokens"]["operator"]
    body = {"psn_no": "P2", "relative_certno": SPOUSE, "relative_name": "配偶", "relation": "配偶"}
    created = call(client, "POST", "/relations", operator, body)
    assert created.status_code == 201, created.text
    assert created.json() == body | {"relation": "spouse"}
    listed = call(client, "GET", "/persons/P2/relations", operator).json()
    assert [(r["relative_certno"], r["relation"]) for r in listed] == [
        (mask_certno(FATHER["certno"]), "parent"), (mask_certno(SPOUSE), "spouse")]
    # FATHER sees the relation SON registered, naming him
    assert [r["psn_no"] for r in call(client, "GET", "/persons/P1/relations", operator).json()] == ["P2"]
    (entry,) = [e for e in audit_rows(engine) if e["action"] == "relation.create"]
    assert mask_certno(SPOUSE) in entry["after"] and SPOUSE not in entry["after"]


def test_lists_mask_id_numbers_and_single_reads_do_not(reg, client):
    auditor = reg["tokens"]["auditor"]
    page = call(client, "GET", "/persons?limit=1&offset=1", auditor).json()
    assert page["total"] == 2 and page["limit"] == 1
    assert [p["certno"] for p in page["items"]] == [mask_certno(SON["certno"])]
    assert mask_certno(SON["certno"]) == SON["certno"][:6] + "********" + SON["certno"][-4:]
    assert call(client, "GET", "/persons/P2", auditor).json()["certno"] == SON["certno"]
    named = call(client, "GET", "/persons", auditor, None).json()["items"]
    assert all("*" in p["certno"] for p in named)
    by_name = call(client, "GET", f"/persons?psn_name={SON['psn_name'][-2:]}&insuplc_admdvs=321000", auditor)
    assert [p["psn_no"] for p in by_name.json()["items"]] == ["P2"]


def test_settlements_read_in_yuan(reg, client):
    auditor = reg["tokens"]["auditor"]
    page = call(client, "GET", "/settlements?psn_no=P1&from=2024-03-01&to=2024-03-31", auditor).json()
    assert page["total"] == 1
    assert call(client, "GET", "/settlements?from=2024-04-01", auditor).json()["total"] == 0
    info = call(client, "GET", f"/settlements/{reg['setl_id']}", auditor).json()
    # retiree, level 1: deductible 500.00, (800.00 - 500.00) x 80 % = 240.00 from the pool, 560.00 from the account
    assert (info["medfee_sumamt"], info["hifp_pay"], info["acct_pay"], info["balc"]) == (
        "800.00", "240.00", "560.00", "440.00")
    assert info["pool_prop_selfpay"] == "0.8000" and info["lines"] == []
    assert call(client, "GET", "/settlements/S0", auditor).status_code == 404


def test_policies_and_audit(reg, client):
    auditor = reg["tokens"]["auditor"]
    regions = {r["admdvs"]: r for r in call(client, "GET", "/policies", auditor).json()}
    assert regions["321000"]["versions"][-1]["effective_from"] == "2024-01-01"
    county = call(client, "GET", "/policies/530925", auditor).json()
    assert county["served_by"] == "530000" and county["versions"][0]["effective_from"] == "2024-11-01"
    assert call(client, "GET", "/policies/110000", auditor).status_code == 404
    audit = call(client, "GET", "/audit", auditor).json()
    assert audit["clean"] and audit["totals"]["321000"]["outpatient_fund_paid"] == "240.00"


def test_a_crediting_run(reg, client, engine):
    operator, admin = reg["tokens"]["operator"], reg["tokens"]["admin"]
    first = call(client, "POST", "/crediting-runs", operator, {"month": "2024-01", "insuplc_admdvs": "321000"})
    assert first.status_code == 200, first.text
    (result,) = first.json()
    assert result["members"] == 2 and not result["already"]
    runs = call(client, "GET", "/crediting-runs", operator).json()
    assert [(r["kind"], r["admdvs"], r["period"], r["members"]) for r in runs["items"]] == [
        ("credit", "321000", "2024-01-01", 2)]
    again = call(client, "POST", "/crediting-runs", operator, {"month": "2024-01"}).json()
    assert [(r["admdvs"], r["already"]) for r in again] == [("321000", True)]
    (entry,) = call(client, "GET", "/audit-log?target=321000 2024-01", admin).json()
    assert entry["action"] == "crediting.run" and entry["after"]["members"] == 2
    assert_clean(engine)


# --- the audit log ------------------------------------------------------------------------------------------

def test_the_audit_log_cannot_be_changed(reg, client, engine):
    admin = reg["tokens"]["admin"]
    call(client, "POST", "/persons", admin, as_json(NEW))
    before = snapshot(engine)
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert call(client, method, "/audit-log", admin, {}).status_code == 405
    assert call(client, "DELETE", "/audit-log/1", admin).status_code == 404
    assert snapshot(engine) == before
    paths = client.app.openapi()["paths"]
    assert set(paths[API + "/audit-log"]) == {"get"}


def test_every_change_writes_one_audit_row(reg, client, engine):
    operator = reg["tokens"]["operator"]
    for method, path, body, _allowed, ok in ROUTES:
        if method == "GET":
            continue
        count = len(audit_rows(engine))
        assert call(client, method, path.format(**reg), operator, body).status_code == ok
        assert len(audit_rows(engine)) == count + 1, path


def test_a_change_and_its_audit_row_commit_together(reg, engine, book, monkeypatch):
    def broken(*_args, **_kw):
        raise RuntimeError("the audit log cannot be written")

    monkeypatch.setattr(audit_log_service, "record", broken)
    client = TestClient(create_app(engine, book), raise_server_exceptions=False)
    before = snapshot(engine)
    for method, path, body, _allowed, _ok in ROUTES:
        if method != "GET":
            assert call(client, method, path.format(**reg), reg["tokens"]["operator"], body).status_code == 500, path
    assert snapshot(engine) == before


# --- bad input ----------------------------------------------------------------------------------------------

BAD = [
    # (method, path, body, status, words the message must hold)
    ("POST", "/persons", as_json(NEW) | {"brdy": "1985-04-05"}, 422, ["brdy"]),
    ("POST", "/persons", as_json(NEW) | {"insuplc_admdvs": "110000"}, 422, ["insuplc_admdvs", "110000"]),
    ("POST", "/persons", as_json(NEW) | {"balc": "1.234"}, 422, ["balc"]),
    ("POST", "/persons", as_json(NEW) | {"nickname": "x"}, 422, ["nickname"]),
    ("POST", "/persons", as_json(SON), 409, ["psn_no", "P2", "already registered"]),
    ("POST", "/persons", as_json(NEW) | {"certno": SON["certno"], "brdy": SON["brdy"], "gend": SON["gend"]}, 422,
     ["certno", "P2"]),
    ("POST", "/persons/P7/status", {"psn_insu_stas": "2", "on": "2024-06-01"}, 404, ["psn_no", "P7"]),
    ("POST", "/persons/P2/status", {"psn_insu_stas": "4", "on": "2024-06-01", "reason": "death"}, 422, ["heir"]),
    ("POST", "/persons/P2/status", {"psn_insu_stas": "2", "on": "1990-01-01"}, 422, ["date", "1990-01-01"]),
    ("POST", "/persons/P2/status", {"psn_insu_stas": "3", "on": "2024-06-01"}, 422, ["psn_insu_stas"]),
    ("POST", "/relations", {"psn_no": "P7", "relative_certno": SPOUSE, "relative_name": "配偶",
                            "relation": "spouse"}, 422, ["psn_no", "P7"]),
    ("POST", "/relations", {"psn_no": "P2", "relative_certno": SON["certno"], "relative_name": "本人",
                            "relation": "spouse"}, 422, ["relative_certno", SON["certno"]]),
    ("POST", "/relations", {"psn_no": "P2", "relative_certno": FATHER["certno"], "relative_name": "父亲",
                            "relation": "parent"}, 409, ["P2", FATHER["certno"]]),
    ("POST", "/relations", {"psn_no": "P2", "relative_certno": SPOUSE, "relative_name": "表哥",
                            "relation": "cousin"}, 422, ["relation"]),
    ("POST", "/authorizations", {"owner_psn_no": "P1", "user_psn_no": "P2"}, 422, ["P2", "already authorized"]),
    ("POST", "/authorizations", {"owner_psn_no": "P1", "user_psn_no": "P7"}, 422, ["relative", "P7"]),
    ("DELETE", "/authorizations/P2/P1", None, 404, ["P1", "not authorized"]),
    ("DELETE", "/authorizations/P7/P1", None, 404, ["owner", "P7"]),
    ("POST", "/crediting-runs", {"month": "2024-13"}, 422, ["month", "2024-13"]),
    ("POST", "/crediting-runs", {"month": "2024-01", "insuplc_admdvs": "110000"}, 422, ["110000"]),
    ("GET", "/persons/P7", None, 404, ["psn_no", "P7"]),
    ("GET", "/accounts/P7", None, 404, ["psn_no", "P7"]),
    ("GET", "/accounts/P7/movements", None, 404, ["psn_no", "P7"]),
    ("GET", "/persons?limit=1001", None, 422, ["limit"]),
    ("GET", "/audit-log?target=P1%00", None, 422, ["NUL"]),
    ("POST", "/persons", as_json(NEW) | {"psn_name": "王\u0000芳"}, 422, ["NUL"]),
]


@pytest.mark.parametrize("method, path, body, status, words", BAD, ids=[f"{b[0]} {b[1]} {i}" for i, b in
                                                                       enumerate(BAD)])
def test_bad_input_is_refused_and_changes_nothing(method, path, body, status, words, reg, client, engine):
    before = snapshot(engine)
    response = call(client, method, path, reg["tokens"]["admin"], body)
    assert response.status_code == status, response.text
    assert all(word in response.text for word in words), response.text
    if isinstance(response.json()["detail"], str):  # a use case's refusal: one line
        assert "\n" not in response.json()["detail"]
    assert snapshot(engine) == before
