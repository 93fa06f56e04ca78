"""The admin API's issue-6 routes on SQLite and PostgreSQL: prescriptions (外配处方), chronic disease
qualifications (门诊慢特病备案), cross-region registrations (异地就医备案), inpatient stays and the month's clearing
(清算): round trips, who may call them, the audit row of every change, and bad input refused with nothing changed.

The registry is tests/api/staff.py's (FATHER P1 retired in Yangzhou, 1000.00 in his account, one visit of 800.00
covered settled on 2024-03-01 at the level-1 hospital H1: deductible 500.00 met, 240.00 from the pool, 560.00 from
the account, 440.00 left) plus `benefits_registry` of test_admin.py, a pooled pharmacy and a Kunming hospital.
Yangzhou (321000.yaml): retired ratios 80/75/70 % at levels 1/2/3; prescriptions valid 3 days counting the day
written; cross-region without a registration 20 points less.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from gongji.api.app import create_app
from gongji.services.imports import import_csv
from gongji.services.settlement import parse_settle, reverse, settle
from tests.api.staff import H1, registry
from tests.api.test_admin import RX_BODY, audit_rows, benefits_registry, call
from tests.factories import assert_clean, institution, institutions_csv, snapshot

P_POOLED = "P32100000011"
H_KUNMING = "H53010000001"
"""a level-1 hospital in Kunming (530100), another pooling region than Yangzhou."""
CHANGES = [
    ("POST", "/prescriptions", RX_BODY),
    ("POST", "/prescriptions/{rxno}/revoke", {"fixmedins_code": H1}),
    ("POST", "/persons/P1/qualifications", {"opsp_dise_code": "M01600", "begndate": "2024-01-01"}),
    ("POST", "/persons/P1/qualifications/{sn}/cancel", {}),
    ("POST", "/persons/P1/registrations", {"mdtrtarea_admvs": "530100", "reason": "resident",
                                           "begndate": "2024-01-01"}),
    ("POST", "/persons/P2/registrations/{registration_id}/revoke", None),
    ("POST", "/persons/P1/stays", {"fixmedins_code": H1, "admitted_on": "2024-06-01"}),
    ("POST", "/persons/P2/stays/discharge", {"discharged_on": "2024-06-10"}),
]
READS = ["/prescriptions/{rxno}", "/persons/P1/qualifications", "/persons/P2/registrations", "/persons/P2/stays",
         "/clearing?month=2024-03"]


@pytest.fixture
def reg(engine, book) -> dict:
    done = registry(engine, book) | benefits_registry(engine, book)
    import_csv(engine, "institutions", institutions_csv([institution(P_POOLED, None, otp_pool_flag="1"),
                                                         institution(H_KUNMING, 1, region="530100")]), book)
    return done


@pytest.fixture
def client(engine, book) -> TestClient:
    return TestClient(create_app(engine, book))


def logged(engine, action: str) -> dict:
    """The one audit row of `action`, before and after loaded."""
    (row,) = [r for r in audit_rows(engine) if r["action"] == action]
    return row | {"before": json.loads(row["before"]) if row["before"] else None, "after": json.loads(row["after"])}


# --- who may call them --------------------------------------------------------------------------------------

def test_auditors_read_and_may_not_change(reg, client, engine):
    auditor = reg["tokens"]["auditor"]
    before = snapshot(engine)
    for path in READS:
        assert call(client, "GET", path.format(**reg), auditor).status_code == 200, path
    for method, path, body in CHANGES:
        response = call(client, method, path.format(**reg), auditor, body)
        assert response.status_code == 403 and "may not change" in response.json()["detail"], path
    assert snapshot(engine) == before


def test_without_a_known_token_nothing_answers(reg, client, engine):
    before = snapshot(engine)
    for method, path, body in [("GET", p, None) for p in READS] + CHANGES:
        for token in (None, "not-a-token"):
            assert call(client, method, path.format(**reg), token, body).status_code == 401, path
    assert snapshot(engine) == before


# --- prescriptions ------------------------------------------------------------------------------------------

def test_a_prescription_recorded_used_reversed_and_revoked(reg, client, engine, book):
    operator, auditor = reg["tokens"]["operator"], reg["tokens"]["auditor"]
    created = call(client, "POST", "/prescriptions", operator, RX_BODY | {"hosp_rxno": "HIS-RX-9", "psn_no": "P1"})
    assert created.status_code == 201, created.text
    rx = created.json()
    # written 2024-03-01, valid 3 days counting that day: to 2024-03-03
    assert rx["rxno"].startswith("RX") and rx["valid_end"] == "2024-03-03"
    assert rx["drugs"] == [{"med_list_codg": "XD01", "drug_genname": "氨氯地平片", "drug_cnt": "30.0000",
                            "medc_days": 30}]
    assert (rx["fixmedins_code"], rx["psn_no"], rx["setl_id"], rx["settlements"]) == (H1, "P1", None, [])
    assert call(client, "GET", f"/prescriptions/{rx['rxno']}", auditor).json() == rx
    entry = logged(engine, "prescription.create")
    assert (entry["actor"], entry["target"], entry["before"]) == ("operator", rx["rxno"], None)
    assert entry["after"]["drugs"][0]["drug_cnt"] == 300000  # 30 in 1/10000

    sale = settle(engine, book, parse_settle({"psn_no": "P1", "fixmedins_code": P_POOLED, "date": "2024-03-02",
                                              "med_type": "41", "covered": "100.00", "rxno": rx["rxno"]}))
    # the deductible was met on 2024-03-01; H1's level 1, retired: 100.00 x 80 % = 80.00
    assert call(client, "GET", f"/settlements/{sale.row['setl_id']}", auditor).json()["hifp_pay"] == "80.00"
    used = call(client, "GET", f"/prescriptions/{rx['rxno']}", auditor).json()
    assert used["setl_id"] == sale.row["setl_id"]
    assert [(s["setl_id"], s["fixmedins_code"], s["reversed_by"]) for s in used["settlements"]] == [
        (sale.row["setl_id"], P_POOLED, None)]
    before = snapshot(engine)
    refused = call(client, "POST", f"/prescriptions/{rx['rxno']}/revoke", operator, {"fixmedins_code": H1})
    assert refused.status_code == 422 and "cannot be revoked" in refused.json()["detail"]
    assert snapshot(engine) == before

    reversal = reverse(engine, book, sale.row["setl_id"], P_POOLED)
    given_back = call(client, "GET", f"/prescriptions/{rx['rxno']}", auditor).json()
    assert given_back["setl_id"] is None
    assert [(s["setl_id"], s["reverses"], s["reversed_by"]) for s in given_back["settlements"]] == [
        (sale.row["setl_id"], None, reversal.row["setl_id"]), (reversal.row["setl_id"], sale.row["setl_id"], None)]
    revoked = call(client, "POST", f"/prescriptions/{rx['rxno']}/revoke", operator, {"fixmedins_code": H1})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    entry = logged(engine, "prescription.revoke")
    assert entry["before"]["revoked_at"] is None and entry["after"]["revoked_at"] is not None
    before = snapshot(engine)
    again = call(client, "POST", f"/prescriptions/{rx['rxno']}/revoke", operator, {"fixmedins_code": H1})
    assert again.status_code == 422 and "already revoked" in again.json()["detail"]
    assert snapshot(engine) == before
    assert_clean(engine)


# --- qualifications -----------------------------------------------------------------------------------------

def test_a_qualification_recorded_listed_and_cancelled(reg, client, engine):
    operator = reg["tokens"]["operator"]
    created = call(client, "POST", "/persons/P2/qualifications", operator,
                   {"opsp_dise_code": "M00500", "begndate": "2024-02-01", "enddate": "2024-12-31",
                    "ide_fixmedins_no": H1})
    assert created.status_code == 201, created.text
    q = created.json()
    # the name comes from Yangzhou's list
    assert (q["opsp_dise_name"], q["begndate"], q["enddate"], q["cancelled_at"]) == (
        "恶性肿瘤门诊治疗", "2024-02-01", "2024-12-31", None)
    assert [x["trt_dcla_detl_sn"] for x in call(client, "GET", "/persons/P2/qualifications", operator).json()] == [
        q["trt_dcla_detl_sn"]]
    assert logged(engine, "qualification.create")["after"]["trt_dcla_detl_sn"] == q["trt_dcla_detl_sn"]

    cancelled = call(client, "POST", f"/persons/P2/qualifications/{q['trt_dcla_detl_sn']}/cancel", operator,
                     {"memo": "复核不符"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancelled_at"] is not None and cancelled.json()["memo"] == "复核不符"
    listed = call(client, "GET", "/persons/P2/qualifications", operator).json()
    assert [(x["trt_dcla_detl_sn"], x["cancelled_at"] is not None) for x in listed] == [(q["trt_dcla_detl_sn"], True)]
    entry = logged(engine, "qualification.cancel")
    assert (entry["target"], entry["before"]["cancelled_at"], entry["after"]["memo"]) == ("P2", None, "复核不符")
    # a new one for the same disease may follow the cancelled one
    assert call(client, "POST", "/persons/P2/qualifications", operator,
                {"opsp_dise_code": "M00500", "begndate": "2024-03-01"}).status_code == 201


# --- registrations ------------------------------------------------------------------------------------------

def test_a_registration_recorded_listed_and_revoked(reg, client, engine):
    operator = reg["tokens"]["operator"]
    created = call(client, "POST", "/persons/P1/registrations", operator,
                   {"mdtrtarea_admvs": "530000", "reason": "referral", "begndate": "2024-04-01",
                    "enddate": "2024-09-30"})
    assert created.status_code == 201, created.text
    r = created.json()
    assert (r["psn_no"], r["mdtrtarea_admvs"], r["reason"], r["revoked_at"]) == ("P1", "530000", "referral", None)
    assert [x["id"] for x in call(client, "GET", "/persons/P1/registrations", operator).json()] == [r["id"]]
    assert logged(engine, "registration.create")["after"]["id"] == r["id"]
    revoked = call(client, "POST", f"/persons/P1/registrations/{r['id']}/revoke", operator)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    entry = logged(engine, "registration.revoke")
    assert entry["before"]["revoked_at"] is None and entry["after"]["revoked_at"] is not None
    assert call(client, "GET", "/persons/P1/registrations", operator).json()[0]["revoked_at"] is not None


# --- stays --------------------------------------------------------------------------------------------------

def test_a_stay_admitted_listed_and_discharged(reg, client, engine):
    operator = reg["tokens"]["operator"]
    admitted = call(client, "POST", "/persons/P1/stays", operator, {"fixmedins_code": H1, "admitted_on": "2024-05-02"})
    assert admitted.status_code == 201, admitted.text
    assert admitted.json() | {"id": 0} == {"id": 0, "psn_no": "P1", "fixmedins_code": H1,
                                           "admitted_on": "2024-05-02", "discharged_on": None}
    discharged = call(client, "POST", "/persons/P1/stays/discharge", operator, {"discharged_on": "2024-05-09"})
    assert discharged.status_code == 200, discharged.text
    assert (discharged.json()["id"], discharged.json()["discharged_on"]) == (admitted.json()["id"], "2024-05-09")
    assert [(s["admitted_on"], s["discharged_on"]) for s in call(client, "GET", "/persons/P1/stays",
                                                                 operator).json()] == [("2024-05-02", "2024-05-09")]
    entry = logged(engine, "stay.discharge")
    assert (entry["target"], entry["before"]["discharged_on"], entry["after"]["discharged_on"]) == (
        "P1", None, "2024-05-09")
    assert logged(engine, "stay.admit")["after"]["admitted_on"] == "2024-05-02"


# --- clearing -----------------------------------------------------------------------------------------------

def test_the_clearing_of_a_month(reg, client, engine, book):
    auditor = reg["tokens"]["auditor"]
    settle(engine, book, parse_settle({"psn_no": "P1", "fixmedins_code": H_KUNMING, "date": "2024-03-05",
                                       "covered": "100.00"}))
    # FATHER in Kunming, unregistered: Yangzhou's retired level-1 ratio 80 % less 20 points = 60 %; his deductible
    # was met on 2024-03-01: 100.00 x 60 % = 60.00 from Yangzhou's pool, 40.00 from his account (440.00 left).
    # Yangzhou owes Kunming 60.00 + 40.00 = 100.00; the visit at home on 2024-03-01 is not cleared.
    answer = call(client, "GET", "/clearing?month=2024-03", auditor)
    assert answer.status_code == 200, answer.text
    yangzhou, kunming = {"admdvs": "321000", "name": "扬州市"}, {"admdvs": "530100", "name": "云南省"}
    assert answer.json() == {
        "month": "2024-03",
        "flows": [{"insured": yangzhou, "treating": kunming, "settlements": 1, "reversals": 0,
                   "medfee_sumamt": "100.00", "fund_pay": "60.00", "acct_pay": "40.00", "psn_cash_pay": "0.00",
                   "owed": "100.00"}],
        "nets": [{"region_a": yangzhou, "region_b": kunming, "a_owes_b": "100.00", "b_owes_a": "0.00",
                  "payer": "321000", "payee": "530100", "amount": "100.00"}]}
    assert call(client, "GET", "/clearing?month=2024-04", auditor).json() == {"month": "2024-04", "flows": [],
                                                                             "nets": []}


# --- bad input ----------------------------------------------------------------------------------------------

RX = RX_BODY | {"hosp_rxno": "HIS-RX-3"}
BAD = [
    # (method, path, body, status, words the answer must hold)
    ("POST", "/prescriptions", RX | {"fixmedins_code": P_POOLED}, 422, ["fixmedins_code", P_POOLED]),
    ("POST", "/prescriptions", RX | {"fixmedins_code": "H99999999999"}, 422, ["fixmedins_code", "H99999999999"]),
    ("POST", "/prescriptions", RX | {"psn_no": "P7"}, 422, ["psn_no", "P7"]),
    ("POST", "/prescriptions", RX | {"hosp_rxno": "HIS-RX-1"}, 409, ["hosp_rxno", "HIS-RX-1", "already recorded"]),
    ("POST", "/prescriptions", RX | {"prsc_date": "2024-02-30"}, 422, ["prsc_date", "2024-02-30"]),
    ("POST", "/prescriptions", RX | {"drugs": []}, 422, ["drugs"]),
    ("POST", "/prescriptions", RX | {"drugs": [RX["drugs"][0] | {"drug_cnt": "0"}]}, 422, ["drug_cnt"]),
    ("POST", "/prescriptions", RX | {"drugs": [RX["drugs"][0] | {"drug_cnt": "1.23456"}]}, 422,
     ["drug_cnt", "1.23456"]),
    ("POST", "/prescriptions", RX | {"drugs": RX["drugs"] * 2}, 422, ["XD01", "listed twice"]),
    ("POST", "/prescriptions", RX | {"valid_days": 0}, 422, ["valid_days"]),
    ("POST", "/prescriptions", RX | {"prescriber": H1}, 422, ["prescriber"]),
    ("GET", "/prescriptions/RXNOPE", None, 404, ["rxno", "RXNOPE"]),
    ("POST", "/prescriptions/RXNOPE/revoke", {"fixmedins_code": H1}, 404, ["rxno", "RXNOPE"]),
    ("POST", "/prescriptions/{rxno}/revoke", {"fixmedins_code": "H32100000002"}, 422,
     ["rxno", "H32100000002"]),
    ("POST", "/persons/P7/qualifications", {"opsp_dise_code": "M03900", "begndate": "2024-01-01"}, 404,
     ["psn_no", "P7"]),
    ("POST", "/persons/P1/qualifications", {"opsp_dise_code": "Z99999", "begndate": "2024-01-01"}, 422,
     ["opsp_dise_code", "Z99999"]),
    ("POST", "/persons/P1/qualifications", {"opsp_dise_code": "M03900", "begndate": "2024-05-01"}, 422,
     ["M03900", "already qualified"]),
    ("POST", "/persons/P1/qualifications", {"opsp_dise_code": "M01600", "begndate": "2024-05-01",
                                            "enddate": "2024-04-30"}, 422, ["enddate", "2024-04-30"]),
    ("POST", "/persons/P1/qualifications", {"opsp_dise_code": "M01600", "begndate": "2021-01-01"}, 422,
     ["begndate", "2021-01-01"]),
    # Yangzhou's pre-reform version of 2022 has no disease list
    ("POST", "/persons/P1/qualifications", {"opsp_dise_code": "M01600", "begndate": "2022-06-01"}, 422,
     ["M01600", "2022-06-01"]),
    ("POST", "/persons/P1/qualifications/TNOPE/cancel", {}, 404, ["trt_dcla_detl_sn", "TNOPE"]),
    ("POST", "/persons/P2/qualifications/{sn}/cancel", {}, 404, ["trt_dcla_detl_sn", "P2"]),
    ("POST", "/persons/P7/registrations", {"mdtrtarea_admvs": "530100", "reason": "resident",
                                           "begndate": "2024-01-01"}, 404, ["psn_no", "P7"]),
    ("POST", "/persons/P1/registrations", {"mdtrtarea_admvs": "321002", "reason": "resident",
                                           "begndate": "2024-01-01"}, 422, ["mdtrtarea_admvs", "321002"]),
    ("POST", "/persons/P1/registrations", {"mdtrtarea_admvs": "5301", "reason": "resident",
                                           "begndate": "2024-01-01"}, 422, ["mdtrtarea_admvs", "5301"]),
    ("POST", "/persons/P1/registrations", {"mdtrtarea_admvs": "530100", "reason": "holiday",
                                           "begndate": "2024-01-01"}, 422, ["reason", "holiday"]),
    ("POST", "/persons/P1/registrations/{registration_id}/revoke", None, 404, ["registration_id", "P1"]),
    ("POST", "/persons/P2/registrations/999/revoke", None, 404, ["registration_id", "999"]),
    ("POST", "/persons/P2/registrations/0/revoke", None, 422, ["registration_id"]),
    ("POST", "/persons/P1/stays", {"fixmedins_code": "H32100000002", "admitted_on": "2024-06-01"}, 422,
     ["fixmedins_code", "H32100000002"]),
    ("POST", "/persons/P2/stays", {"fixmedins_code": H1, "admitted_on": "2024-07-01"}, 422,
     ["P2", "already has an open stay"]),
    ("POST", "/persons/P7/stays", {"fixmedins_code": H1, "admitted_on": "2024-06-01"}, 404, ["psn_no", "P7"]),
    ("POST", "/persons/P1/stays/discharge", {"discharged_on": "2024-06-10"}, 422, ["P1", "no open stay"]),
    ("POST", "/persons/P2/stays/discharge", {"discharged_on": "2024-05-31"}, 422,
     ["discharged_on", "2024-05-31", "before the admission"]),
    ("GET", "/persons/P7/stays", None, 404, ["psn_no", "P7"]),
    ("GET", "/persons/P7/qualifications", None, 404, ["psn_no", "P7"]),
    ("GET", "/persons/P7/registrations", None, 404, ["psn_no", "P7"]),
    ("GET", "/clearing?month=2024-13", None, 422, ["month", "2024-13"]),
    ("GET", "/clearing?month=March", None, 422, ["month", "March"]),
    ("GET", "/clearing", None, 422, ["month"]),
]


@pytest.mark.parametrize("method, path, body, status, words", BAD, ids=[f"{b[0]} {b[1]} {i}" for i, b in
                                                                       enumerate(BAD)])
def test_bad_input_is_refused_and_changes_nothing(method, path, body, status, words, reg, client, engine):
    before = snapshot(engine)
    response = call(client, method, path.format(**reg), reg["tokens"]["admin"], body)
    assert response.status_code == status, response.text
    assert all(word in response.text for word in words), response.text
    if isinstance(response.json()["detail"], str):  # a use case's refusal: one line
        assert "\n" not in response.json()["detail"]
    assert snapshot(engine) == before


def test_a_revoked_registration_or_cancelled_qualification_is_not_revoked_again(reg, client, engine):
    admin = reg["tokens"]["admin"]
    assert call(client, "POST", "/persons/P2/registrations/{registration_id}/revoke".format(**reg), admin
                ).status_code == 200
    assert call(client, "POST", "/persons/P1/qualifications/{sn}/cancel".format(**reg), admin, {}).status_code == 200
    before = snapshot(engine)
    again = call(client, "POST", "/persons/P2/registrations/{registration_id}/revoke".format(**reg), admin)
    assert again.status_code == 422 and "already revoked" in again.json()["detail"]
    again = call(client, "POST", "/persons/P1/qualifications/{sn}/cancel".format(**reg), admin, {})
    assert again.status_code == 422 and "already cancelled" in again.json()["detail"]
    assert snapshot(engine) == before
