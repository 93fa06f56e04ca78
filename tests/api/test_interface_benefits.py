"""Issue 6 over real HTTP: electronic prescriptions (7101) a pharmacy settles against (2101/2102/2103), and chronic
and special diseases (2503/2504/5301, med_type 14 at 2203/2206/2207, their accumulators in 5206). Every amount is
worked by hand from Yangzhou's policy, and every settlement output keeps the identities of NHSA.md §4.3.

Yangzhou (321000) in 2024 (gongji/policy/regions/321000.yaml, SPEC.md §3): ordinary pooling's deductible 600 yuan a
year in service, 500 retired; the pooled fund pays 70/65/60 % in service and 80/75/70 % retired at levels 1/2/3; a
pharmacy sale on a prescription settles at the prescriber's level (Q14); a prescription is valid 3 days counting
the day written and may cover at most 84 days of supply. Chronic disease M00500 (恶性肿瘤门诊治疗): deductible 300.00
in service, 85 % at every level, limit 50000.00 a year, apart from ordinary pooling.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert

from gongji.services import prescriptions
from gongji.services.imports import import_csv
from gongji.store.db import transaction
from gongji.store.tables import NATIONAL, catalogue
from tests.api.benefit_inputs import qualification_input, rx_input
from tests.api.server import Institution, LiveServer
from tests.api.test_interface_flow import (
    CATALOGUE,
    IN_SERVICE,
    RETIRED,
    _setup,
    accumulated,
    assert_identities,
    balance,
)
from tests.factories import assert_clean, csv_bytes, fen, person
from tests.services.test_imports import CATALOGUE_COLUMNS
from tests.services.test_settlement_db import H2, H3, P_POOLED, pool, setup

W_CERT = {"mdtrt_cert_type": "02", "mdtrt_cert_no": IN_SERVICE["certno"]}
R_CERT = {"mdtrt_cert_type": "02", "mdtrt_cert_no": RETIRED["certno"]}


def sale(psn_no: str, cert: dict, lines: list[tuple[str, str | None, str, int]], day: str = "2024-03-01") -> dict:
    """A 2101/2102 input: lines as (feedetl_sn, rxno or None when bought without a prescription, pric, cnt) of A01."""
    total = sum(round(float(pric) * 100) * cnt for _sn, _rx, pric, cnt in lines) / 100
    return {"druginfo": {"psn_no": psn_no, "begntime": f"{day} 10:00:00", "medfee_sumamt": total, "insutype": "310",
                         "acct_used_flag": "1", "med_type": "41", "dise_codg": "", "dise_name": ""} | cert,
            "drugdetail": [{"feedetl_sn": sn, "rxno": rx or "", "rx_circ_flag": "1" if rx else "0",
                            "fee_ocur_time": f"{day} 10:00:00", "med_list_codg": "A01", "medins_list_codg": "P-A01",
                            "det_item_fee_sumamt": round(float(pric) * 100) * cnt / 100, "cnt": cnt, "pric": pric,
                            "sin_dos_dscr": "1片", "used_frqu_dscr": "tid", "prd_days": 14, "medc_way_dscr": "口服"}
                           for sn, rx, pric, cnt in lines]}


def picked(setl: dict, expected: dict) -> dict:
    return {k: setl[k] for k in expected}


# (a) Prescriptions written at H3 (level 3), settled at P_POOLED (admitted to outpatient pooling).
#
# W1, in service, buys A01 25.00 x 40 = 1000.00 on its prescription on 03-02:
#   deductible 600.00 (the year's first pooled cost); pooled fund (1000.00 - 600.00) x 60 % = 240.00
#   member's share 1000.00 - 240.00 = 760.00 from the account (1000.00): balc 240.00, cash 0
# R1, retired, buys A01 25.00 x 40 = 1000.00 on its prescription and A01 25.00 x 2 = 50.00 without one on 03-01:
#   only the 1000.00 on the prescription is pooled: deductible 500.00; (1000.00 - 500.00) x 70 % = 350.00
#   medfee 1050.00; member's share 1050.00 - 350.00 = 700.00: the account's 300.00, cash 400.00; balc 0
#   the 50.00 bought without a prescription counts toward nothing: R1's covered 1000.00
# W1 comes back with the same prescription on 03-02 for A01 25.00 x 4 = 100.00: it was used, so nothing is
#   pooled; the account pays 100.00: balc 240.00 - 100.00 = 140.00
# 2103 reverses W1's first sale: the account gets 760.00 back (140.00 + 760.00 = 900.00), the pool 240.00, the
#   year's accumulators replay without it (the second sale pooled nothing): 0; the prescription is free again
# W1 uses it again on 03-03 (its last valid day) for 25.00 x 40 = 1000.00: the same 240.00 from the pooled fund,
#   760.00 from the account: balc 900.00 - 760.00 = 140.00
def test_prescriptions_settled_at_a_pharmacy(engine, book):
    _setup(engine, book)
    pool_before = pool(engine)
    with LiveServer(engine, book) as server:
        h = Institution(server.url, engine, H3)
        rx_w = h.ok("7101", rx_input("W1", "CF-W1", [("A01", "40", 14)]))
        rx_r = h.ok("7101", rx_input("R1", "CF-R1", [("A01", "40.0000", 28)], prsc_time="2024-03-01 08:00:00"))
        # valid 3 days counting the day written: 2024-03-01 .. 2024-03-03
        assert rx_w["valid_end_date"] == rx_r["valid_end_date"] == "2024-03-03"
        assert rx_w["hi_rxno"].startswith("RX") and rx_w["hi_rxno"] != rx_r["hi_rxno"]

        p = Institution(server.url, engine, P_POOLED)
        w_sale = sale("W1", W_CERT, [("1", rx_w["hi_rxno"], "25.00", 40)], "2024-03-02")
        w_expected = {"medfee_sumamt": 1000.00, "inscp_scp_amt": 1000.00, "act_pay_dedc": 600.00, "hifp_pay": 240.00,
                      "fund_pay_sumamt": 240.00, "psn_part_amt": 760.00, "acct_pay": 760.00, "psn_cash_pay": 0,
                      "balc": 240.00, "pool_prop_selfpay": 0.6, "chronic_pay": 0}
        trial = p.ok("2101", w_sale)
        assert picked(trial["setlinfo"], w_expected) == w_expected
        cut = trial["detlcutinfo"][0]
        assert (cut["inscp_scp_amt"], cut["hi_nego_drug_flag"], cut["pric_uplmt_amt"]) == (1000.00, "0", None)
        assert balance(engine, "W1") == fen("1000.00")  # a trial moves nothing, nor uses the prescription

        first = p.ok("2102", w_sale)["setlinfo"]
        assert picked(first, w_expected) == w_expected
        assert (first["rxno"], first["clr_type"], first["setl_proc_info"]) == (rx_w["hi_rxno"], "41", None)
        assert_identities(first)

        r_expected = {"medfee_sumamt": 1050.00, "inscp_scp_amt": 1050.00, "act_pay_dedc": 500.00, "hifp_pay": 350.00,
                      "fund_pay_sumamt": 350.00, "psn_part_amt": 700.00, "acct_pay": 300.00, "psn_cash_pay": 400.00,
                      "balc": 0, "pool_prop_selfpay": 0.7}
        r_done = p.ok("2102", sale("R1", R_CERT, [("1", rx_r["hi_rxno"], "25.00", 40), ("2", None, "25.00", 2)]))
        r_setl = r_done["setlinfo"]
        assert picked(r_setl, r_expected) == r_expected
        assert "1 条明细无外配处方" in r_setl["setl_proc_info"]
        assert [c["inscp_scp_amt"] for c in r_done["detlcutinfo"]] == [1000.00, 50.00]
        assert_identities(r_setl)
        assert accumulated(engine, "R1") == (fen("500.00"), fen("350.00"), fen("1000.00"))

        again = p.ok("2102", sale("W1", W_CERT, [("1", rx_w["hi_rxno"], "25.00", 4)], "2024-03-02"))["setlinfo"]
        assert (again["hifp_pay"], again["fund_pay_sumamt"], again["acct_pay"], again["balc"]) == (0, 0, 100.00, 140.00)
        assert f"外配处方 {rx_w['hi_rxno']} 已使用" in again["setl_proc_info"]
        assert again["rxno"] == rx_w["hi_rxno"]  # the prescription shown, though the fund paid nothing on it
        assert_identities(again)
        assert accumulated(engine, "W1") == (fen("600.00"), fen("240.00"), fen("1000.00"))

        back = p.ok("2103", {"data": {"psn_no": "W1", "setl_id": first["setl_id"], "mdtrt_id": first["mdtrt_id"]}})
        assert (back["setlinfo"]["hifp_pay"], back["setlinfo"]["acct_pay"], back["setlinfo"]["balc"]) == (
            -240.00, -760.00, 900.00)
        assert accumulated(engine, "W1") == (0, 0, 0)

        reused = p.ok("2102", sale("W1", W_CERT, [("1", rx_w["hi_rxno"], "25.00", 40)], "2024-03-03"))["setlinfo"]
        assert picked(reused, w_expected) == w_expected | {"balc": 140.00}
        assert reused["rxno"] == rx_w["hi_rxno"]
        assert balance(engine, "W1") == fen("140.00")
        assert pool(engine) == pool_before - fen("240.00") - fen("350.00")
    assert_clean(engine)


# Prescriptions the pooled fund may not pay on are no refusal: the sale settles, the account pays, and
# setl_proc_info says why. Each sale is A01 25.00 x 4 = 100.00 for W1 (account 1000.00): hifp 0, acct_pay 100.00.
def test_prescriptions_the_fund_does_not_pay_on(engine, book):
    _setup(engine, book)
    with LiveServer(engine, book) as server:
        h = Institution(server.url, engine, H3)
        expired = h.ok("7101", rx_input("W1", "CF-1", [("A01", "4", 7)]))["hi_rxno"]
        too_long = h.ok("7101", rx_input("W1", "CF-2", [("A01", "4", 90)]))["hi_rxno"]
        revoked = h.ok("7101", rx_input("W1", "CF-3", [("A01", "4", 7)]))["hi_rxno"]
        short = h.ok("7101", rx_input("W1", "CF-4", [("A01", "4", 7)], valid_days=1))
        assert short["valid_end_date"] == "2024-03-01"  # the doctor's 1 day, fewer than the policy's 3
        with transaction(engine) as conn:  # revocation is the admin API's; the service does it
            prescriptions.revoke(conn, H3, revoked)

        p = Institution(server.url, engine, P_POOLED)
        reasons = {}
        for rxno, day in ((expired, "2024-03-04"), (too_long, "2024-03-01"), (revoked, "2024-03-01"),
                          (short["hi_rxno"], "2024-03-02")):
            setl = p.ok("2102", sale("W1", W_CERT, [("1", rxno, "25.00", 4)], day))["setlinfo"]
            assert (setl["hifp_pay"], setl["acct_pay"], setl["psn_cash_pay"]) == (0, 100.00, 0)
            assert_identities(setl)
            reasons[rxno] = setl["setl_proc_info"]
        # the interface says why in Chinese (setl_proc_info); staff see the same in English
        assert "已于 2024-03-03 过期" in reasons[expired]
        assert "用药 90 天，超过 84 天" in reasons[too_long]
        assert "已被开方机构撤销" in reasons[revoked]
        assert "已于 2024-03-01 过期" in reasons[short["hi_rxno"]]
        assert balance(engine, "W1") == fen("600.00")  # 1000.00 - 4 x 100.00
        assert accumulated(engine, "W1") == (0, 0, 0)
    assert_clean(engine)


# (b) W1 (in service) qualified for M00500; a med_type 14 visit at H2 (level 2) on 2024-03-01:
#   1  A01 甲 50.00 x 20 = 1000.00, a disease item (dise_codg M00500)
#   2  A01 甲 50.00 x 16 =  800.00, an ordinary item
#   3  C01 丙 30.00 x 1  =   30.00, ordinary, fully self-paid
# disease part: covered 1000.00; deductible 300.00; (1000.00 - 300.00) x 85 % = 595.00 (chronic_pay)
# ordinary part: covered 800.00; deductible 600.00; (800.00 - 600.00) x 65 % = 130.00
# medfee 1830.00 = fulamt 30.00 + inscp 1800.00; act_pay_dedc 600.00 + 300.00 = 900.00;
# hifp_pay = fund_pay_sumamt = 130.00 + 595.00 = 725.00; member's share 1830.00 - 725.00 = 1105.00:
# the account's 1000.00 and 105.00 cash; balc 0
# The ordinary accumulators hold only the ordinary part (600.00 / 130.00 / 800.00): the disease part's own
# remainder (1000.00 - 595.00 = 405.00) counts toward nothing of ordinary pooling; M00500's: 300.00 / 595.00.
def test_chronic_disease_visit_and_qualification(engine, book):
    _setup(engine, book)
    pool_before = pool(engine)
    with LiveServer(engine, book) as server:
        h = Institution(server.url, engine, H2)
        sn = h.ok("2503", qualification_input("W1", "M00500", H2))["result"]["trt_dcla_detl_sn"]
        listed = h.ok("5301", {"data": {"psn_no": "W1"}})["feedetail"]
        assert listed == [{"psn_no": "W1", "opsp_dise_code": "M00500", "opsp_dise_name": "病种M00500",
                           "begndate": "2024-01-01", "enddate": None, "trt_dcla_detl_sn": sn, "ide_fixmedins_no": H2}]

        m = _visit(h, "OTP1", [("1", "A01", "50.00", 20, "M00500"), ("2", "A01", "50.00", 16, ""),
                               ("3", "C01", "30.00", 1, None)])
        # a second visit whose 2203 is made while W1 is qualified, settled after 2504
        later = _visit(h, "OTP2", [("1", "A01", "50.00", 2, "M00500")])
        settle = {"psn_no": "W1", "med_type": "14", "medfee_sumamt": 1830.00, "psn_setlway": "01", "mdtrt_id": m,
                  "chrg_bchno": "B1", "insutype": "310", "acct_used_flag": "1"} | W_CERT
        expected = {"medfee_sumamt": 1830.00, "fulamt_ownpay_amt": 30.00, "overlmt_selfpay": 0, "preselfpay_amt": 0,
                    "inscp_scp_amt": 1800.00, "act_pay_dedc": 900.00, "hifp_pay": 725.00, "chronic_pay": 595.00,
                    "inpatient_pay": 0, "fund_pay_sumamt": 725.00, "psn_part_amt": 1105.00, "acct_pay": 1000.00,
                    "psn_cash_pay": 105.00, "balc": 0, "pool_prop_selfpay": 0.65, "med_type": "14",
                    "dise_codg": "M00500", "mdtrtarea_admvs": "321000", "clr_optins": "321000", "clr_type": "11"}
        trial = h.ok("2206", {"data": settle})["setlinfo"]
        assert picked(trial, expected) == expected | {"clr_optins": None}
        done = h.ok("2207", {"data": settle | {k: trial[k] for k in ("fulamt_ownpay_amt", "overlmt_selfpay",
                                                                       "preselfpay_amt", "inscp_scp_amt")}})
        setl = done["setlinfo"]
        assert picked(setl, expected) == expected
        assert_identities(setl)
        assert [(d["fund_pay_type"], d["fund_payamt"]) for d in done["setldetail"]] == [("310100", 725.00),
                                                                                        ("310200", 1000.00)]
        assert pool(engine) == pool_before - fen("725.00")
        assert accumulated(engine, "W1") == (fen("600.00"), fen("130.00"), fen("800.00"))
        assert _cumulative(h) == {("C001", None): 600.00, ("C002", None): 130.00, ("C003", None): 800.00,
                                  ("C004", None): 0, ("C005", "M00500"): 300.00, ("C006", "M00500"): 595.00}
        assert h.ok("5203", {"data": {"psn_no": "W1", "setl_id": setl["setl_id"], "mdtrt_id": m}}
                    )["setlinfo"]["chronic_pay"] == 595.00
        # 3201 counts chronic_pay in fund_pay_sumamt
        stmt = {"insutype": "310", "clr_type": "11", "setl_optins": "321000", "stmt_begndate": "2024-03-01",
                "stmt_enddate": "2024-03-31", "medfee_sumamt": 1830.00, "fund_pay_sumamt": 725.00,
                "acct_pay": 1000.00, "fixmedins_setl_cnt": 1}
        assert h.ok("3201", {"data": stmt})["stmtinfo"]["stmt_rslt"] == "0"

        # 2208: everything back, both kinds of accumulators replayed to nothing
        undone = h.ok("2208", {"data": {"psn_no": "W1", "setl_id": setl["setl_id"], "mdtrt_id": m}})["setlinfo"]
        assert (undone["chronic_pay"], undone["hifp_pay"], undone["balc"]) == (-595.00, -725.00, 1000.00)
        assert_identities(undone)
        assert set(_cumulative(h).values()) == {0}
        assert pool(engine) == pool_before

        # 2504: no longer qualified; 5301 lists nothing, med_type 14 is refused at 2203 and at 2207
        assert h.ok("2504", {"data": {"psn_no": "W1", "trt_dcla_detl_sn": sn, "memo": "痊愈"}}) == {}
        assert h.ok("5301", {"data": {"psn_no": "W1"}})["feedetail"] == []
        third = h.ok("2201", _registration("OTP3"))["data"]["mdtrt_id"]
        refused_2203 = h.refused("2203", {"mdtrtinfo": {"mdtrt_id": third, "psn_no": "W1", "med_type": "14",
                                                        "dise_codg": "M00500"}, "diseinfo": []})
        assert "没有该病种的门诊慢特病备案" in refused_2203
        refused_2207 = h.refused("2207", {"data": settle | {"mdtrt_id": later, "medfee_sumamt": 100.00}})
        assert "没有 M00500 的门诊慢特病备案" in refused_2207
        assert balance(engine, "W1") == fen("1000.00")
    assert_clean(engine)


def _registration(otp: str) -> dict:
    return {"data": {"psn_no": "W1", "insutype": "310", "begntime": "2024-03-01 09:00:00", "ipt_otp_no": otp,
                     "dept_code": "A03", "dept_name": "肿瘤科"} | W_CERT}


def _visit(h: Institution, otp: str, lines: list[tuple[str, str, str, int, str | None]]) -> str:
    """A registered med_type 14 visit of W1 for M00500, with `lines` (sn, code, pric, cnt, dise_codg) in batch B1."""
    m = h.ok("2201", _registration(otp))["data"]["mdtrt_id"]
    h.ok("2203", {"mdtrtinfo": {"mdtrt_id": m, "psn_no": "W1", "med_type": "14", "dise_codg": "M00500",
                                "dise_name": "恶性肿瘤门诊治疗"}, "diseinfo": []})
    h.ok("2204", {"feedetail": [{"feedetl_sn": sn, "mdtrt_id": m, "psn_no": "W1", "chrg_bchno": "B1",
                                 "med_list_codg": code, "pric": pric, "cnt": cnt,
                                 "det_item_fee_sumamt": round(float(pric) * 100) * cnt / 100,
                                 "fee_ocur_time": "2024-03-01 09:10:00", "dise_codg": dise,
                                 "rxno": "", "rx_circ_flag": "0"} for sn, code, pric, cnt, dise in lines]})
    return m


def _cumulative(h: Institution) -> dict:
    rows = h.ok("5206", {"data": {"psn_no": "W1", "cum_ym": "202403"}})["cuminfo"]
    return {(r["cum_type_code"], r["dise_codg"]): r["cum"] for r in rows}


# A hospital line bought outside on an external prescription (rx_circ_flag 1, rxno given) is still a hospital
# line: the settlement is no pharmacy sale and uses no prescription. W2 (in service, 500.00 in the account) at
# H2 on 2024-03-01, A01 50.00 x 14 = 700.00: deductible 600.00; (700.00 - 600.00) x 65 % = 65.00; account 500.00,
# cash 700.00 - 65.00 - 500.00 = 135.00.
def test_a_hospital_line_with_an_rxno_is_no_pharmacy_sale(engine, book):
    w2 = person("W2", date(1985, 1, 1), balc="500.00", serial=21)
    setup(engine, book, [w2])
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, CATALOGUE), book)
    cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": w2["certno"]}
    with LiveServer(engine, book) as server:
        h = Institution(server.url, engine, H2)
        m = h.ok("2201", {"data": {"psn_no": "W2", "insutype": "310", "begntime": "2024-03-01 09:00:00",
                                   "ipt_otp_no": "OTP1"} | cert})["data"]["mdtrt_id"]
        h.ok("2204", {"feedetail": [{"feedetl_sn": "1", "mdtrt_id": m, "psn_no": "W2", "chrg_bchno": "B1",
                                     "med_list_codg": "A01", "pric": 50, "cnt": 14, "det_item_fee_sumamt": 700,
                                     "rxno": "RX-NOT-OURS", "rx_circ_flag": "1"}]})
        setl = h.ok("2207", {"data": {"psn_no": "W2", "med_type": "11", "medfee_sumamt": 700, "psn_setlway": "01",
                                      "mdtrt_id": m, "chrg_bchno": "B1", "insutype": "310", "acct_used_flag": "1"}
                             | cert})["setlinfo"]
    assert (setl["hifp_pay"], setl["acct_pay"], setl["psn_cash_pay"], setl["rxno"], setl["clr_type"]) == (
        65.00, 500.00, 135.00, None, "11")
    assert_identities(setl)
    assert_clean(engine)


# Payment standards (医保支付标准) in the per-line split, catalogue rows written straight to the table:
#   N01, a negotiated drug (hi_nego_drug_flag), national row: payment standard 20.00 (its listing price 25.00 does
#       not apply to it); bought at 22.00 x 10 = 220.00: over the standard (22.00 - 20.00) x 10 = 20.00, covered 200.00
#   L01, national row: payment standard 30.00, listing price 28.00, so 28.00 applies; Yangzhou's own row lists it at
#       26.00 (no payment standard) and wins at an institution of 321000: bought at 30.00 x 1: over 4.00, covered 26.00
def test_payment_standard_and_negotiated_flag_in_the_line_split(engine, book):
    _setup(engine, book)
    with transaction(engine) as conn:
        row = {"list_type": "drug", "chrgitm_lv": "01", "pay_std": None, "hi_nego_drug_flag": False}
        conn.execute(insert(catalogue), [
            row | {"admdvs": NATIONAL, "med_list_codg": "N01", "med_list_name": "谈判药", "pay_std": 200_000,
                   "pric_uplmt_amt": 250_000, "hi_nego_drug_flag": True},
            row | {"admdvs": NATIONAL, "med_list_codg": "L01", "med_list_name": "挂网药", "pay_std": 300_000,
                   "pric_uplmt_amt": 280_000},
            row | {"admdvs": "321000", "med_list_codg": "L01", "med_list_name": "挂网药", "pric_uplmt_amt": 260_000}])
    lines = [("1", "N01", "22.00", 10, 220.00), ("2", "L01", "30.00", 1, 30.00)]
    expected = [("1", 20.0, "1", 20.00, 200.00), ("2", 26.0, "0", 4.00, 26.00)]
    with LiveServer(engine, book) as server:
        p = Institution(server.url, engine, P_POOLED)
        trial = p.ok("2101", {"druginfo": {"psn_no": "W1", "begntime": "2024-03-01 10:00:00", "medfee_sumamt": 250.00,
                                           "insutype": "310", "acct_used_flag": "1", "med_type": "41"} | W_CERT,
                              "drugdetail": [{"feedetl_sn": sn, "med_list_codg": code, "pric": pric, "cnt": cnt,
                                              "det_item_fee_sumamt": total} for sn, code, pric, cnt, total in lines]})
        h = Institution(server.url, engine, H2)
        m = h.ok("2201", _registration("OTP1"))["data"]["mdtrt_id"]
        result = h.ok("2204", {"feedetail": [{"feedetl_sn": sn, "mdtrt_id": m, "psn_no": "W1", "chrg_bchno": "B1",
                                              "med_list_codg": code, "pric": pric, "cnt": cnt,
                                              "det_item_fee_sumamt": total} for sn, code, pric, cnt, total in lines]})
    for cuts in (trial["detlcutinfo"], result["result"]):
        assert [(c["feedetl_sn"], c["pric_uplmt_amt"], c["hi_nego_drug_flag"], c["overlmt_amt"], c["inscp_scp_amt"])
                for c in cuts] == expected
    # medfee 250.00 = overlmt 24.00 + covered 226.00; nothing on a prescription, so nothing pooled
    assert (trial["setlinfo"]["overlmt_selfpay"], trial["setlinfo"]["inscp_scp_amt"], trial["setlinfo"]["hifp_pay"]) \
        == (24.00, 226.00, 0)
    assert_identities(trial["setlinfo"])
