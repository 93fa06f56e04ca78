"""The national interface over real HTTP: a hospital visit 9001 -> 1101 -> 2201 -> 2203 -> 2204 -> 2206 -> 2207
-> 2208 and a pharmacy purchase 2101 -> 2102 -> 2103, every amount worked by hand from Yangzhou's policy, and
the identities of NHSA.md §4.3 on every settlement output.

Yangzhou (321000) in 2024 (gongji/policy/regions/321000.yaml): deductible 600 yuan a year in service, 500
retired; the pooled fund pays 70/65/60 % in service and 80/75/70 % retired at levels 1/2/3.
"""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy import select

from gongji.services import family
from gongji.services.imports import import_csv
from gongji.store.tables import accounts, accumulators, fee_details
from tests.api.benefit_inputs import rx_input
from tests.api.server import Institution, LiveServer
from tests.factories import assert_clean, csv_bytes, fen, person
from tests.services.test_imports import CATALOGUE_COLUMNS, item
from tests.services.test_settlement_db import H2, H3, P_POOLED, pool, setup

IN_SERVICE = person("W1", date(1980, 6, 1), balc="1000.00", serial=11)
RETIRED = person("R1", date(1955, 5, 1), psn_type="12", pension="3000.00", balc="300.00", serial=12)
SPOUSE = person("S1", date(1957, 3, 1), gend="2", balc="500.00", serial=13)
CATALOGUE = [item("A01"), item("B01", "乙", selfpay_prop="10%"), item("C01", "丙"),
             item("S01", list_type="service", pay_std="80.00")]


def _setup(engine, book) -> None:
    setup(engine, book, [IN_SERVICE, RETIRED, SPOUSE], relations=[("S1", "R1", "spouse")])
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, CATALOGUE), book)


def _fen(value: float) -> int:
    """A JSON amount back to fen (the server sends fen / 100)."""
    return round(value * 100)


def assert_identities(setl: dict) -> None:
    """NHSA.md §4.3, to the fen."""
    f = {k: _fen(v) for k, v in setl.items() if isinstance(v, float | int) and k not in ("age", "pool_prop_selfpay")}
    assert f["medfee_sumamt"] == f["fulamt_ownpay_amt"] + f["overlmt_selfpay"] + f["preselfpay_amt"] \
        + f["inscp_scp_amt"]
    assert f["medfee_sumamt"] == f["fund_pay_sumamt"] + f["psn_part_amt"] + f["hosp_part_amt"]
    assert f["psn_part_amt"] == f["acct_pay"] + f["psn_cash_pay"]
    assert f["fund_pay_sumamt"] == sum(f[k] for k in ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay",
                                                     "hifob_pay", "maf_pay", "oth_pay"))


def balance(engine, psn_no: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(accounts.c.balance).where(accounts.c.psn_no == psn_no)).scalar_one()


def accumulated(engine, psn_no: str) -> tuple[int, int, int]:
    with engine.connect() as conn:
        found = conn.execute(select(accumulators.c.deductible, accumulators.c.pool, accumulators.c.covered)
                             .where(accumulators.c.psn_no == psn_no, accumulators.c.year == 2024)).first()
    return tuple(found) if found else (0, 0, 0)


# The hospital bill, at H2 (level 2) for W1 (in service):
#   A01 甲 50.00 x 10 = 500.00 all in policy
#   B01 乙 100.00 x 2 = 200.00, 10 % first self-paid: preselfpay 20.00, in policy 180.00
#   C01 丙 30.00 x 1  = 30.00 fully self-paid
#   S01 甲 100.00 x 3 = 300.00 with a payment standard of 80.00: over the standard 3 x 20.00 = 60.00, in policy 240.00
# medfee_sumamt 1030.00 = fulamt 30.00 + overlmt 60.00 + preselfpay 20.00 + inscp 920.00 (500 + 180 + 240)
# deductible: the year's first visit takes 600.00; pooled fund (920.00 - 600.00) x 65 % = 208.00
# member's share 1030.00 - 208.00 = 822.00, all from the account (1000.00): balance after 178.00, cash 0
BILL = [("1", "A01", "50.00", "10", "500.00"), ("2", "B01", "100.00", "2", "200.00"),
        ("3", "C01", "30.00", "1", "30.00"), ("4", "S01", "100.00", "3", "300.00")]


def _fee_lines(mdtrt_id: str) -> list[dict]:
    return [{"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": "W1", "chrg_bchno": "B1", "med_list_codg": code,
             "medins_list_codg": f"HIS-{code}", "pric": float(pric), "cnt": int(cnt),
             "det_item_fee_sumamt": float(total), "fee_ocur_time": "2024-03-01 09:10:00", "rxno": "",
             "rx_circ_flag": "0"} for sn, code, pric, cnt, total in BILL]


def test_hospital_visit_from_sign_in_to_reversal(engine, book):
    _setup(engine, book)
    pool_before = pool(engine)
    cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": IN_SERVICE["certno"]}
    with LiveServer(engine, book) as server:
        h = Institution(server.url, engine, H2)
        sign = h.ok("9001", {"signIn": {"opter_no": "0001", "mac": "00-00", "ip": "127.0.0.1"}})["signinoutb"]
        assert len(sign["sign_no"]) == 30

        info = h.ok("1101", {"data": cert | {"card_sn": "", "begntime": "2024-03-01 09:00:00"}})
        assert info["baseinfo"]["psn_no"] == "W1" and info["baseinfo"]["certno"] == IN_SERVICE["certno"]
        assert info["insuinfo"][0]["balc"] == 1000.00 and info["insuinfo"][0]["insuplc_admdvs"] == "321000"

        reg = h.ok("2201", {"data": {"psn_no": "W1", "insutype": "310", "begntime": "2024-03-01 09:00:00",
                                     "ipt_otp_no": "MZ0001", "atddr_no": "D01", "dr_name": "王医生",
                                     "dept_code": "A03", "dept_name": "内科", "caty": "A03"} | cert})["data"]
        mdtrt_id = reg["mdtrt_id"]
        assert reg["ipt_otp_no"] == "MZ0001"

        h.ok("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": "W1", "med_type": "11",
                                    "begntime": "2024-03-01 09:00:00", "dise_codg": "J06.900", "dise_name": "上感"},
                      "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900",
                                    "diag_name": "急性上呼吸道感染", "diag_dept": "内科", "dise_dor_no": "D01",
                                    "dise_dor_name": "王医生", "diag_time": "2024-03-01 09:05:00"}]})

        cut = {r["feedetl_sn"]: r for r in h.ok("2204", {"feedetail": _fee_lines(mdtrt_id)})["result"]}
        assert (cut["1"]["inscp_scp_amt"], cut["1"]["fulamt_ownpay_amt"]) == (500.00, 0)
        assert (cut["2"]["preselfpay_amt"], cut["2"]["inscp_scp_amt"], cut["2"]["selfpay_prop"]) == (20.00, 180.00,
                                                                                                      0.1)
        assert (cut["3"]["fulamt_ownpay_amt"], cut["3"]["inscp_scp_amt"]) == (30.00, 0)
        assert (cut["4"]["overlmt_amt"], cut["4"]["inscp_scp_amt"], cut["4"]["pric_uplmt_amt"]) == (60.00, 240.00,
                                                                                                     80.0)

        settle = {"psn_no": "W1", "med_type": "11", "medfee_sumamt": 1030.00, "psn_setlway": "01",
                  "mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "insutype": "310", "acct_used_flag": "1"} | cert
        pre = h.ok("2206", {"data": settle})
        trial = pre["setlinfo"]
        assert trial["setl_id"] is None and trial["clr_optins"] is None and trial["clr_way"] is None
        assert balance(engine, "W1") == fen("1000.00")  # a trial moves nothing

        done = h.ok("2207", {"data": settle | {"invono": "INV1", "fulamt_ownpay_amt": trial["fulamt_ownpay_amt"],
                                               "overlmt_selfpay": trial["overlmt_selfpay"],
                                               "preselfpay_amt": trial["preselfpay_amt"],
                                               "inscp_scp_amt": trial["inscp_scp_amt"]}})
        msgid_2207 = h.last_msgid
        setl = done["setlinfo"]
        expected = {"medfee_sumamt": 1030.00, "fulamt_ownpay_amt": 30.00, "overlmt_selfpay": 60.00,
                    "preselfpay_amt": 20.00, "inscp_scp_amt": 920.00, "act_pay_dedc": 600.00, "hifp_pay": 208.00,
                    "fund_pay_sumamt": 208.00, "psn_part_amt": 822.00, "acct_pay": 822.00, "acct_mulaid_pay": 0,
                    "psn_cash_pay": 0, "hosp_part_amt": 0, "balc": 178.00, "pool_prop_selfpay": 0.65}
        assert {k: setl[k] for k in expected} == expected
        assert {k: trial[k] for k in expected} == expected  # the trial said exactly this
        assert setl["setl_id"] and setl["mdtrt_id"] == mdtrt_id and setl["medins_setl_id"] == msgid_2207
        assert (setl["clr_optins"], setl["clr_type"], setl["psn_no"], setl["certno"]) == ("321000", "11", "W1",
                                                                                          IN_SERVICE["certno"])
        assert_identities(setl)
        # balc after = 1101 balc before - acct_pay: 1000.00 - 822.00
        assert setl["balc"] == info["insuinfo"][0]["balc"] - setl["acct_pay"]
        assert done["setldetail"] == [
            {"fund_pay_type": "310100", "fund_pay_type_name": "职工基本医疗保险统筹基金", "inscp_scp_amt": 920.00,
             "crt_payb_lmt_amt": None, "fund_payamt": 208.00, "setl_proc_info": None},
            {"fund_pay_type": "310200", "fund_pay_type_name": "职工基本医疗保险个人账户基金", "inscp_scp_amt": 920.00,
             "crt_payb_lmt_amt": None, "fund_payamt": 822.00, "setl_proc_info": None}]
        assert balance(engine, "W1") == fen("178.00")
        assert pool(engine) == pool_before - fen("208.00")
        assert accumulated(engine, "W1") == (fen("600.00"), fen("208.00"), fen("920.00"))

        # 5203 reads it back; 5206 gives the year's accumulators per benefit
        read = h.ok("5203", {"data": {"psn_no": "W1", "setl_id": setl["setl_id"], "mdtrt_id": mdtrt_id}})
        assert {k: read["setlinfo"][k] for k in expected} == expected and read["setlinfo"]["dedc_hosp_lv"] == 2
        cum = {c["cum_type_code"]: c["cum"] for c in h.ok("5206", {"data": {"psn_no": "W1",
                                                                            "cum_ym": "202403"}})["cuminfo"]}
        assert cum == {"C001": 600.00, "C002": 208.00, "C003": 920.00, "C004": 0}

        # 3201: the day's totals of H2 agree; a wrong count does not
        stmt = {"insutype": "310", "clr_type": "11", "setl_optins": "321000", "stmt_begndate": "2024-03-01",
                "stmt_enddate": "2024-03-31", "medfee_sumamt": 1030.00, "fund_pay_sumamt": 208.00,
                "acct_pay": 822.00, "fixmedins_setl_cnt": 1}
        assert h.ok("3201", {"data": stmt})["stmtinfo"]["stmt_rslt"] == "0"
        off = h.ok("3201", {"data": stmt | {"fixmedins_setl_cnt": 2}})["stmtinfo"]
        assert off["stmt_rslt"] == "1" and "fixmedins_setl_cnt" in off["stmt_rslt_dscr"]

        # 2208: the negated amounts and the restored balance
        back = h.ok("2208", {"data": {"psn_no": "W1", "setl_id": setl["setl_id"], "mdtrt_id": mdtrt_id}})
        undone = back["setlinfo"]
        negated = {k: -v if k not in ("balc", "pool_prop_selfpay") else v for k, v in expected.items()}
        assert {k: undone[k] for k in expected} == negated | {"balc": 1000.00, "acct_mulaid_pay": 0,
                                                               "psn_cash_pay": 0, "hosp_part_amt": 0}
        assert undone["setl_id"] != setl["setl_id"] and undone["refd_setl_flag"] == "1"
        assert_identities(undone)
        assert [d["fund_payamt"] for d in back["setldetail"]] == [-208.00, -822.00]
        assert balance(engine, "W1") == fen("1000.00")
        assert pool(engine) == pool_before
        assert accumulated(engine, "W1") == (0, 0, 0)
        with engine.connect() as conn:  # the lines are unsettled again: the hospital may settle them anew
            assert conn.execute(select(fee_details.c.setl_id)).scalars().all() == [None] * 4

        # the same visit settles again after the reversal, to the same amounts
        again = h.ok("2207", {"data": settle})["setlinfo"]
        assert {k: again[k] for k in expected} == expected
    assert_clean(engine)


# The pharmacy purchase, at P_POOLED on a prescription H3 (level 3) uploaded with 7101 for R1 (retired):
#   A01 甲 25.00 x 40 = 1000.00, all in policy
# deductible 500.00 (retired); pooled fund (1000.00 - 500.00) x 70 % = 350.00
# member's share 1000.00 - 350.00 = 650.00: R1's own account pays its 300.00, then S1's account (S1 authorized
# R1, her spouse) pays 350.00; acct_pay 650.00 of which acct_mulaid_pay 350.00; cash 0; R1's balc 0.00
def test_pharmacy_purchase_with_family_account_and_reversal(engine, book):
    _setup(engine, book)
    family.authorize(engine, "S1", "R1")
    pool_before = pool(engine)
    cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": RETIRED["certno"]}
    sale = {"druginfo": {"psn_no": "R1", "begntime": "2024-03-01 10:00:00", "medfee_sumamt": 1000.00,
                         "insutype": "310", "dise_codg": "", "dise_name": "", "acct_used_flag": "1", "med_type": "41"}
            | cert,
            "drugdetail": [{"feedetl_sn": "1", "rxno": None, "rx_circ_flag": "1",
                            "fee_ocur_time": "2024-03-01 10:00:00", "med_list_codg": "A01",
                            "medins_list_codg": "P-A01", "det_item_fee_sumamt": "1000.00", "cnt": "40",
                            "pric": "25.00", "sin_dos_dscr": "1片", "used_frqu_dscr": "tid", "prd_days": 14,
                            "medc_way_dscr": "口服", "bilg_dr_codg": "D01", "bilg_dr_name": "王医生"}]}
    expected = {"medfee_sumamt": 1000.00, "inscp_scp_amt": 1000.00, "act_pay_dedc": 500.00, "hifp_pay": 350.00,
                "fund_pay_sumamt": 350.00, "psn_part_amt": 650.00, "acct_pay": 650.00, "acct_mulaid_pay": 350.00,
                "psn_cash_pay": 0, "balc": 0, "pool_prop_selfpay": 0.7}
    with LiveServer(engine, book) as server:
        h = Institution(server.url, engine, H3)
        rx = h.ok("7101", rx_input("R1", "CF0001", [("A01", "40", 14)]))
        # valid 3 days counting the day written (321000.yaml pharmacy.prescriptions.valid_days): 03-01 to 03-03
        assert rx["valid_end_date"] == "2024-03-03"
        sale["drugdetail"][0]["rxno"] = rx["hi_rxno"]
        p = Institution(server.url, engine, P_POOLED)
        trial = p.ok("2101", sale)
        assert "setl_id" not in trial["setlinfo"]
        assert {k: trial["setlinfo"][k] for k in expected} == expected
        assert trial["detlcutinfo"][0]["inscp_scp_amt"] == 1000.00 and trial["detlcutinfo"][0]["feedetl_sn"] == "1"
        assert balance(engine, "R1") == fen("300.00")

        done = p.ok("2102", sale | {"druginfo": sale["druginfo"] | {"invono": "P-INV-1"}})
        setl = done["setlinfo"]
        assert {k: setl[k] for k in expected} == expected and setl["clr_type"] == "41"
        assert (setl["rxno"], setl["mdtrtarea_admvs"], setl["clr_optins"]) == (rx["hi_rxno"], "321000", "321000")
        assert_identities(setl)
        assert [(d["fund_pay_type"], d["fund_payamt"]) for d in done["setldetail"]] == [("310100", 350.00),
                                                                                        ("310200", 650.00)]
        assert (balance(engine, "R1"), balance(engine, "S1")) == (0, fen("150.00"))  # S1: 500.00 - 350.00
        assert pool(engine) == pool_before - fen("350.00")

        back = p.ok("2103", {"data": {"psn_no": "R1", "setl_id": setl["setl_id"], "mdtrt_id": setl["mdtrt_id"]}})
        undone = back["setlinfo"]
        assert (undone["medfee_sumamt"], undone["hifp_pay"], undone["acct_pay"], undone["acct_mulaid_pay"],
                undone["balc"]) == (-1000.00, -350.00, -650.00, -350.00, 300.00)
        assert_identities(undone)
        assert (balance(engine, "R1"), balance(engine, "S1")) == (fen("300.00"), fen("500.00"))
        assert pool(engine) == pool_before
    assert_clean(engine)


def test_the_same_msgid_again_gets_the_first_answer_and_moves_no_money(engine, book):
    _setup(engine, book)
    with LiveServer(engine, book) as server:
        p = Institution(server.url, engine, P_POOLED)
        sale = {"druginfo": {"psn_no": "W1", "mdtrt_cert_type": "02", "mdtrt_cert_no": IN_SERVICE["certno"],
                             "begntime": "2024-03-01 10:00:00", "medfee_sumamt": 100.00, "insutype": "310",
                             "acct_used_flag": "1", "med_type": "41"},
                "drugdetail": [{"feedetl_sn": "1", "med_list_codg": "A01", "det_item_fee_sumamt": 100.00, "cnt": 4,
                                "pric": 25.00}]}
        first = p.call("2102", sale, msgid="P32100000011202403011000000001")
        # no prescription: the pooled fund pays nothing; the account pays the 100.00 (1000.00 -> 900.00)
        assert first["output"]["setlinfo"]["hifp_pay"] == 0 and first["output"]["setlinfo"]["balc"] == 900.00
        second = p.call("2102", sale, msgid="P32100000011202403011000000001")
        assert second == first
        assert balance(engine, "W1") == fen("900.00")
        # 2601 with the original msgid reverses it, once
        p.ok("2601", {"data": {"psn_no": "W1", "omsgid": "P32100000011202403011000000001", "oinfno": "2102"}})
        assert balance(engine, "W1") == fen("1000.00")
    assert_clean(engine)


def test_healthz(engine, book):
    with LiveServer(engine, book) as server:
        reply = httpx.get(server.url + "/healthz")
    assert reply.status_code == 200 and reply.json()["status"] == "ok"
