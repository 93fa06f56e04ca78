"""Refusals of issue 6's transactions over real HTTP, on SQLite and PostgreSQL: 7101 prescriptions, pharmacy sales
on them (2101/2102), med_type 14 visits (2203/2204/2207) and qualifications (2503/2504/5301).

As in test_interface_errors: each refused call answers infcode -1 with a Chinese err_msg naming the field and the
value, and leaves every table as it was (the `nonces` table aside).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from gongji.store.tables import prescriptions, qualifications
from tests.api.benefit_inputs import qualification_input, rx_input
from tests.api.server import Institution
from tests.api.test_interface_errors import A, B, cert, data_of, has, refused, served
from tests.services.test_settlement_db import H2, H3, P_POOLED

BEGN = "2024-03-01 09:00:00"


def _visit14(h: Institution, p: dict, otp: str, dise_codg: str) -> str:
    """A med_type 14 visit of `p` for M03900 at h, with one line of 20.00 (A01 10 x 2) of disease `dise_codg`."""
    m = h.ok("2201", {"data": {"psn_no": p["psn_no"], "insutype": "310", "begntime": BEGN, "ipt_otp_no": otp}
                      | cert(p)})["data"]["mdtrt_id"]
    h.ok("2203", {"mdtrtinfo": {"mdtrt_id": m, "psn_no": p["psn_no"], "med_type": "14", "dise_codg": "M03900"}})
    h.ok("2204", {"feedetail": [{"feedetl_sn": "1", "mdtrt_id": m, "psn_no": p["psn_no"], "chrg_bchno": "B1",
                                 "med_list_codg": "A01", "pric": 10, "cnt": 2, "det_item_fee_sumamt": 20,
                                 "dise_codg": dise_codg}]})
    return m


def world(srv, engine) -> SimpleNamespace:
    """Prescriptions CF-A, CF-A2 (A) and CF-B (B) of H3 written 2024-03-01; A qualified for M03900; a med_type 14
    visit of A whose line is of another disease; a med_type 14 visit of B whose qualification was then cancelled."""
    h3, h2 = Institution(srv.url, engine, H3), Institution(srv.url, engine, H2)
    w = SimpleNamespace(h2=h2, h3=h3, p=Institution(srv.url, engine, P_POOLED))
    w.rx_a = h3.ok("7101", rx_input("A", "CF-A", [("A01", "10", 7)]))["hi_rxno"]
    w.rx_a2 = h3.ok("7101", rx_input("A", "CF-A2", [("A01", "10", 7)]))["hi_rxno"]
    w.rx_b = h3.ok("7101", rx_input("B", "CF-B", [("A01", "10", 7)]))["hi_rxno"]
    w.sn_a = h2.ok("2503", qualification_input("A", "M03900", H2))["result"]["trt_dcla_detl_sn"]
    w.sn_b = h2.ok("2503", qualification_input("B", "M03900", H2))["result"]["trt_dcla_detl_sn"]
    w.m_other = _visit14(h2, A, "OTP-A", "M01600")
    w.m_cancelled = _visit14(h2, B, "OTP-B", "M03900")
    h2.ok("2504", {"data": {"psn_no": "B", "trt_dcla_detl_sn": w.sn_b}})
    return w


def rx(psn_no: str = "A", **changes) -> dict:
    """A good 7101 input (hosp_rxno CF-NEW), with `changes` to its nodes: {"data": {...}} etc.; a value None drops
    the key."""
    body = rx_input(psn_no, "CF-NEW", [("A01", "10", 7)])
    for node, fields in changes.items():
        if fields is None:
            body.pop(node)
            continue
        target = body[node][0] if node == "rxdrugdetail" else body[node]
        for key, value in fields.items():
            if value is None:
                target.pop(key)
            else:
                target[key] = value
    return body


def drug_sale(p: dict, lines: list[dict], day: str = "2024-03-01", **info) -> dict:
    """A 2101/2102 input of `p` with drug lines of A01 10.00 x 2 (20.00 each), each given its rxno/rx_circ_flag."""
    return {"druginfo": {"psn_no": p["psn_no"], "begntime": f"{day} 10:00:00", "medfee_sumamt": 20 * len(lines),
                         "insutype": "310", "acct_used_flag": "1", "med_type": "41", **info} | cert(p),
            "drugdetail": [{"feedetl_sn": str(i + 1), "med_list_codg": "A01", "pric": 10, "cnt": 2,
                            "det_item_fee_sumamt": 20} | line for i, line in enumerate(lines)]}


def settle14(m: str, p: dict) -> dict:
    return {"data": {"psn_no": p["psn_no"], "med_type": "14", "medfee_sumamt": 20, "psn_setlway": "01",
                     "mdtrt_id": m, "chrg_bchno": "B1", "insutype": "310", "acct_used_flag": "1"} | cert(p)}


def q(**changes) -> dict:
    """A good 2503 input for B (whose M03900 qualification was cancelled), disease M01600, with `changes`."""
    body = qualification_input("B", "M01600", H2)
    for key, value in changes.items():
        if value is None:
            body["data"].pop(key)
        else:
            body["data"][key] = value
    return body


Case = tuple[str, str, Callable[[SimpleNamespace], dict], list[str]]
CASES: dict[str, Case] = {
    # 7101 电子处方上传
    "7101-missing-hosp_rxno": ("h3", "7101", lambda w: rx(data={"hosp_rxno": None}),
                               ["input.data.hosp_rxno", "缺少必填字段"]),
    "7101-missing-prsc_time": ("h3", "7101", lambda w: rx(data={"prsc_time": None}),
                               ["input.data.prsc_time", "缺少必填字段"]),
    "7101-missing-prsc_dr_name": ("h3", "7101", lambda w: rx(mdtrtinfo={"prsc_dr_name": None}),
                                  ["input.mdtrtinfo.prsc_dr_name", "缺少必填字段"]),
    "7101-missing-diag_code": ("h3", "7101", lambda w: rx(mdtrtinfo={"diag_code": None}),
                               ["input.mdtrtinfo.diag_code", "缺少必填字段"]),
    "7101-missing-rxdrugdetail": ("h3", "7101", lambda w: rx(rxdrugdetail=None),
                                  ["input.rxdrugdetail", "缺少必填字段"]),
    "7101-no-drugs": ("h3", "7101", lambda w: rx() | {"rxdrugdetail": []}, ["input.rxdrugdetail", "不能为空"]),
    "7101-prsc_time-not-a-time": ("h3", "7101", lambda w: rx(data={"prsc_time": "20240301"}),
                                  ["input.data.prsc_time", "yyyy-MM-dd HH:mm:ss", "'20240301'"]),
    "7101-drug_cnt-not-a-number": ("h3", "7101", lambda w: rx(rxdrugdetail={"drug_cnt": "abc"}),
                                   ["input.rxdrugdetail[0].drug_cnt", "应为数量数字", "'abc'"]),
    "7101-drug_cnt-zero": ("h3", "7101", lambda w: rx(rxdrugdetail={"drug_cnt": 0}),
                           ["input.rxdrugdetail[0].drug_cnt", "应大于 0"]),
    "7101-drug_cnt-negative": ("h3", "7101", lambda w: rx(rxdrugdetail={"drug_cnt": -1}),
                               ["input.rxdrugdetail[0].drug_cnt", "不能为负数", "-1"]),
    "7101-drug_cnt-5-decimals": ("h3", "7101", lambda w: rx(rxdrugdetail={"drug_cnt": "1.00001"}),
                                 ["input.rxdrugdetail[0].drug_cnt", "最多四位小数"]),
    "7101-medc_days-fraction": ("h3", "7101", lambda w: rx(rxdrugdetail={"medc_days": 7.5}),
                                ["input.rxdrugdetail[0].medc_days", "应为整数", "7.5"]),
    "7101-medc_days-zero": ("h3", "7101", lambda w: rx(rxdrugdetail={"medc_days": "0"}),
                            ["input.rxdrugdetail[0].medc_days", "不能小于 1"]),
    "7101-valid_days-not-a-number": ("h3", "7101", lambda w: rx(data={"valid_days": "三天"}),
                                     ["input.data.valid_days", "应为整数", "'三天'"]),
    "7101-psn_no-a-list": ("h3", "7101", lambda w: rx(mdtrtinfo={"psn_no": ["A"]}),
                           ["input.mdtrtinfo.psn_no", "应为字符串"]),
    "7101-unknown-person": ("h3", "7101", lambda w: rx("NOPE"), ["psn_no", "'NOPE'", "查无此参保人"]),
    "7101-insured-elsewhere-per-mdtrtinfo": ("h3", "7101", lambda w: rx(mdtrtinfo={"insuplc_admdvs": "530000"}),
                                             ["input.mdtrtinfo.insuplc_admdvs", "530000", "321000", "不符"]),
    "7101-by-a-pharmacy": ("p", "7101", lambda w: rx(), ["fixmedins_code", P_POOLED, "不是定点医疗机构"]),
    "7101-duplicate-hosp_rxno": ("h3", "7101", lambda w: rx(data={"hosp_rxno": "CF-A"}),
                                 ["hosp_rxno", "'CF-A'", "已上传"]),
    "7101-a-drug-twice": ("h3", "7101", lambda w: rx() | {"rxdrugdetail": rx()["rxdrugdetail"] * 2},
                          ["'A01'", "重复"]),
    "7101-not-for-outside": ("h3", "7101", lambda w: rx(data={"rx_circ_flag": "0"}),
                             ["input.data.rx_circ_flag", "不外购"]),
    "7101-unknown-mdtrt_id": ("h3", "7101", lambda w: rx(mdtrtinfo={"mdtrt_id": "MNOSUCH"}),
                              ["mdtrt_id", "'MNOSUCH'", "不存在"]),
    "7101-before-any-policy": ("h3", "7101", lambda w: rx(data={"prsc_time": "2021-06-01 09:00:00"}),
                               ["input.data.prsc_time", "2021-06-01", "没有有效政策"]),
    # 2101/2102 on a prescription
    "2101-unknown-rxno": ("p", "2101", lambda w: drug_sale(A, [{"rxno": "RXNOSUCH", "rx_circ_flag": "1"}]),
                          ["rxno", "'RXNOSUCH'", "不存在"]),
    "2102-unknown-rxno": ("p", "2102", lambda w: drug_sale(A, [{"rxno": "RXNOSUCH", "rx_circ_flag": "1"}]),
                          ["rxno", "'RXNOSUCH'", "不存在"]),
    "2102-rxno-of-another-person": ("p", "2102", lambda w: drug_sale(A, [{"rxno": w.rx_b, "rx_circ_flag": "1"}]),
                                    ["不是参保人 A 的处方"]),
    "2102-two-prescriptions": ("p", "2102", lambda w: drug_sale(A, [{"rxno": w.rx_a, "rx_circ_flag": 1},
                                                                    {"rxno": w.rx_a2, "rx_circ_flag": "1"}]),
                               ["input.drugdetail[1].rxno", "一次购药只能使用一张外配处方"]),
    "2102-rx_circ_flag-1-without-rxno": ("p", "2102", lambda w: drug_sale(A, [{"rxno": "", "rx_circ_flag": "1"}]),
                                         ["input.drugdetail[0].rxno", "须填写处方编号"]),
    "2102-rx_circ_flag-2": ("p", "2102", lambda w: drug_sale(A, [{"rxno": w.rx_a, "rx_circ_flag": "2"}]),
                            ["input.drugdetail[0].rx_circ_flag", "'2'"]),
    "2102-before-the-prescription": ("p", "2102", lambda w: drug_sale(A, [{"rxno": w.rx_a, "rx_circ_flag": "1"}],
                                                                      "2024-02-29"), ["早于处方"]),
    "2102-med_type-14": ("p", "2102", lambda w: drug_sale(A, [{}], med_type="14"), ["med_type", "'14'", "41"]),
    # med_type 14 at a hospital
    "2207-med_type-14-qualification-cancelled": ("h2", "2207", lambda w: settle14(w.m_cancelled, B),
                                                 ["没有 M03900 的门诊慢特病备案"]),
    "2206-med_type-14-line-of-another-disease": ("h2", "2206", lambda w: settle14(w.m_other, A),
                                                 ["dise_codg", "'M01600'", "'M03900'", "一次结算只能是一个病种"]),
    "2204-dise_codg-too-long": ("h2", "2204", lambda w: {"feedetail": [
        {"feedetl_sn": "9", "mdtrt_id": w.m_other, "psn_no": "A", "chrg_bchno": "B1", "med_list_codg": "A01",
         "pric": 10, "cnt": 2, "det_item_fee_sumamt": 20, "dise_codg": "M" * 31}]},
                                ["input.feedetail[0].dise_codg", "长度超过 30"]),
    "2203-med_type-14-disease-not-held": ("h2", "2203", lambda w: {"mdtrtinfo": {
        "mdtrt_id": w.m_other, "psn_no": "A", "med_type": "14", "dise_codg": "M01600"}},
                                          ["dise_codg", "'M01600'", "没有该病种的门诊慢特病备案"]),
    # 2503 人员慢特病备案
    "2503-missing-opsp_dise_code": ("h2", "2503", lambda w: q(opsp_dise_code=None),
                                    ["input.data.opsp_dise_code", "缺少必填字段"]),
    "2503-missing-begndate": ("h2", "2503", lambda w: q(begndate=None), ["input.data.begndate", "缺少必填字段"]),
    "2503-begndate-not-a-date": ("h2", "2503", lambda w: q(begndate="2024/01/01"),
                                 ["input.data.begndate", "yyyy-MM-dd", "'2024/01/01'"]),
    "2503-enddate-before-begndate": ("h2", "2503", lambda w: q(enddate="2023-12-31"),
                                     ["input.data.enddate", "2023-12-31", "早于", "2024-01-01"]),
    "2503-unknown-person": ("h2", "2503", lambda w: q(psn_no="NOPE"), ["psn_no", "'NOPE'", "查无此参保人"]),
    "2503-insutype-390": ("h2", "2503", lambda w: q(insutype="390"), ["input.data.insutype", "'390'", "不符"]),
    "2503-insu_optins-elsewhere": ("h2", "2503", lambda w: q(insu_optins="530000"),
                                   ["input.data.insu_optins", "530000", "321000", "不符"]),
    "2503-unknown-ide_fixmedins_no": ("h2", "2503", lambda w: q(ide_fixmedins_no="H99999999999"),
                                      ["input.data.ide_fixmedins_no", "'H99999999999'", "不是登记的定点医疗机构"]),
    "2503-ide_fixmedins_no-a-pharmacy": ("h2", "2503", lambda w: q(ide_fixmedins_no=P_POOLED),
                                         ["input.data.ide_fixmedins_no", P_POOLED, "不是登记的定点医疗机构"]),
    "2503-disease-not-on-the-list": ("h2", "2503", lambda w: q(opsp_dise_code="X99"),
                                     ["opsp_dise_code", "'X99'", "不在参保地 321000"]),
    "2503-already-qualified": ("h2", "2503", lambda w: q(psn_no="A", opsp_dise_code="M03900"),
                               ["A", "M03900", "已有", "慢特病备案"]),
    "2503-before-any-policy": ("h2", "2503", lambda w: q(begndate="2021-01-01"),
                               ["input.data.begndate", "2021-01-01", "没有有效政策"]),
    # 2504 人员慢特病备案撤销
    "2504-unknown-trt_dcla_detl_sn": ("h2", "2504", lambda w: {"data": {"psn_no": "A", "trt_dcla_detl_sn": "TNOSUCH"}},
                                      ["'TNOSUCH'", "不存在"]),
    "2504-of-another-person": ("h2", "2504", lambda w: {"data": {"psn_no": "B", "trt_dcla_detl_sn": w.sn_a}},
                               ["不存在", "参保人 B"]),
    "2504-cancelled-before": ("h2", "2504", lambda w: {"data": {"psn_no": "B", "trt_dcla_detl_sn": w.sn_b}},
                              ["已撤销"]),
    "2504-missing-psn_no": ("h2", "2504", lambda w: {"data": {"trt_dcla_detl_sn": w.sn_a}},
                            ["input.data.psn_no", "缺少必填字段"]),
    "2504-unknown-person": ("h2", "2504", lambda w: {"data": {"psn_no": "NOPE", "trt_dcla_detl_sn": w.sn_a}},
                            ["psn_no", "'NOPE'", "查无此参保人"]),
    # 5301 人员慢特病备案查询
    "5301-unknown-person": ("h2", "5301", lambda w: {"data": {"psn_no": "NOPE"}}, ["psn_no", "'NOPE'", "查无此参保人"]),
    "5301-missing-psn_no": ("h2", "5301", lambda w: {"data": {}}, ["input.data.psn_no", "缺少必填字段"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused(engine, book, case):
    caller, infno, build, fragments = CASES[case]
    with served(engine, book) as srv:
        w = world(srv, engine)
        msg = refused(engine, getattr(w, caller), infno, build(w))
    has(msg, *fragments)


@pytest.mark.parametrize("infno", ["7101", "2503", "2504", "5301"])
def test_insured_elsewhere_per_the_envelope(engine, book, infno):
    with served(engine, book) as srv:
        w = world(srv, engine)
        h, body = {"7101": (w.h3, rx()), "2503": (w.h2, q()), "5301": (w.h2, {"data": {"psn_no": "A"}}),
                   "2504": (w.h2, {"data": {"psn_no": "A", "trt_dcla_detl_sn": w.sn_a}})}[infno]
        wrong = refused(engine, h, infno, body, insuplc_admdvs="320100")
        missing = refused(engine, h, infno, body, insuplc_admdvs=None)
    has(wrong, "insuplc_admdvs", "320100", "321000", "不符")
    has(missing, "insuplc_admdvs", "缺少必填字段")


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize("infno", ["7101", "2503"])
def test_the_same_msgid_again_gets_the_first_answer_and_records_nothing_more(engine, book, infno):
    with served(engine, book) as srv:
        w = world(srv, engine)
        h, body, table = {"7101": (w.h3, rx(), prescriptions), "2503": (w.h2, q(), qualifications)}[infno]
        envelope = h.envelope(infno, body)
        first = h.post(envelope).json()
        assert first["infcode"] == 0, first
        before, rows = data_of(engine), _count(engine, table)
        again = h.post(envelope).json()
        assert again == first
        assert data_of(engine) == before and _count(engine, table) == rows
