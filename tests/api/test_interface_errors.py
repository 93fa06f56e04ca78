"""Every refusal of the national-platform interface, over real HTTP against a live server, on SQLite and PostgreSQL.

Each refused call must answer infcode -1 (HTTP 401 for the gateway signature, 403 for another institution's
envelope, else 200) with a Chinese err_msg naming the field and the value, and must leave the database as it was.
Every accepted request remembers its x-tif-nonce, so the comparison leaves out the `nonces` table, except for
the gateway refusals (401), which must not even remember the nonce.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from gongji.api import interface
from gongji.masking import mask_certno
from gongji.services import vouchers
from gongji.services.credentials import credentials_for
from gongji.services.imports import import_csv
from gongji.store.tables import visits
from tests.api.server import Institution, LiveServer
from tests.factories import csv_bytes, person, snapshot
from tests.services.test_imports import CATALOGUE_COLUMNS, item
from tests.services.test_settlement_db import H1, H2, setup

A = person("A", date(1970, 5, 20), balc="1000.00")
B = person("B", date(1980, 1, 15), serial=2, balc="500.00")
BEGN = "2024-03-01 09:00:00"
CATALOGUE = csv_bytes(CATALOGUE_COLUMNS, [item("A01"), item("B01", "乙", selfpay_prop="10%")])
NO_VISIT, NO_SETTLEMENT = "MNOSUCHVISIT0000000000000", "SNOSUCHSETTLEMENT"
DROP = object()
"""An envelope override that removes the key."""
CJK = re.compile("[\u4e00-\u9fff]")


# --- helpers ------------------------------------------------------------------------------------------------

def data_of(engine) -> dict:
    """Every row of every table but `nonces` (each accepted request adds its nonce there)."""
    rows = snapshot(engine)
    rows.pop("nonces")
    return rows


@contextmanager
def served(engine, book):
    """Persons A and B, the institutions of test_settlement_db, a small catalogue, and a live server."""
    setup(engine, book, [A, B])
    import_csv(engine, "catalogue", CATALOGUE, book)
    with LiveServer(engine, book) as srv:
        yield srv


def envelope(h: Institution, infno: str, input: object, /, **overrides) -> dict:
    body = h.envelope(infno, input, **{k: v for k, v in overrides.items() if v is not DROP})
    for key in [k for k, v in overrides.items() if v is DROP]:
        body.pop(key)
    return body


def refusal(reply, status: int = 200) -> str:
    """The err_msg of a refused reply: the HTTP status, infcode -1, no output, a Chinese message."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["infcode"] == -1 and body["output"] is None, body
    msg = body["err_msg"]
    assert msg and CJK.search(msg), msg
    return msg


def refuse(engine, send: Callable[[], object], status: int = 200, nonces_too: bool = False) -> str:
    """Send, expect a refusal, and check that the database did not change."""
    state = snapshot if nonces_too else data_of
    before = state(engine)
    msg = refusal(send(), status)
    assert state(engine) == before, f"a refused call changed the database: {msg}"
    return msg


def refused(engine, h: Institution, infno: str, input: object, /, status: int = 200, **overrides) -> str:
    return refuse(engine, lambda: h.post(envelope(h, infno, input, **overrides)), status)


def has(msg: str, *fragments: str) -> None:
    missing = [f for f in fragments if f not in msg]
    assert not missing, f"{missing} not in {msg!r}"


def cert(p: dict) -> dict:
    return {"mdtrt_cert_type": "02", "mdtrt_cert_no": p["certno"]}


def reg_data(p: dict = A, otp: str = "OTP1", **changes) -> dict:
    return {"psn_no": p["psn_no"], "insutype": "310", "begntime": BEGN, **cert(p), "ipt_otp_no": otp,
            "dept_code": "D01", "dept_name": "内科"} | changes


def register(h: Institution, p: dict = A, otp: str = "OTP1") -> str:
    return h.ok("2201", {"data": reg_data(p, otp)})["data"]["mdtrt_id"]


def fee(sn: str, mdtrt_id: str, p: dict = A, code: str = "A01", pric: object = 10, cnt: object = 2,
        amount: object = None, batch: str = "B1") -> dict:
    return {"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": p["psn_no"], "chrg_bchno": batch, "rxno": "RX1",
            "med_list_codg": code, "medins_list_codg": f"IN-{code}", "pric": pric, "cnt": cnt,
            "det_item_fee_sumamt": pric * cnt if amount is None else amount, "fee_ocur_time": BEGN}


def visit_with_fees(h: Institution, p: dict = A, otp: str = "OTP1") -> str:
    """A registered visit with its information and one line of 20.00 (A01, 10 x 2) in batch B1."""
    m = register(h, p, otp)
    h.ok("2203", {"mdtrtinfo": {"mdtrt_id": m, "psn_no": p["psn_no"], "med_type": "11", "dise_codg": "J06.900",
                                "dise_name": "急性上呼吸道感染"}, "diseinfo": []})
    h.ok("2204", {"feedetail": [fee("1", m, p)]})
    return m


def settle_data(m: str, p: dict = A, **changes) -> dict:
    return {"psn_no": p["psn_no"], **cert(p), "med_type": "11", "medfee_sumamt": 20, "psn_setlway": "01",
            "mdtrt_id": m, "chrg_bchno": "B1", "insutype": "310", "acct_used_flag": "1"} | changes


def settled(h: Institution, p: dict = A) -> tuple[str, dict, str]:
    """(mdtrt_id, setlinfo, msgid of the 2207) of a settled visit of 20.00."""
    m = visit_with_fees(h, p)
    info = h.ok("2207", {"data": settle_data(m, p)})["setlinfo"]
    return m, info, h.last_msgid


def reversal(info: dict, p: dict = A) -> dict:
    return {"data": {"psn_no": p["psn_no"], "setl_id": info["setl_id"], "mdtrt_id": info["mdtrt_id"]}}


def person_query(p: dict = A) -> dict:
    return {"data": cert(p)}


def visit_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(visits)).scalar_one()


# --- the gateway signature: HTTP 401, nothing done ----------------------------------------------------------

@pytest.mark.parametrize("header", ["x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature"])
def test_missing_gateway_header_is_401(engine, book, header):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        headers = h.headers()
        del headers[header]
        msg = refuse(engine, lambda: h.post(h.envelope("1101", person_query()), headers), 401, nonces_too=True)
    has(msg, "身份认证失败", header)


@pytest.mark.parametrize("case", ["wrong-secret", "unknown-paasid"])
def test_bad_signature_or_paasid_is_401(engine, book, case):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        if case == "wrong-secret":
            headers = h.headers(secret=credentials_for(engine, H2).secret)
        else:
            headers = h.headers() | {"x-tif-paasid": "gj" + "0" * 32}
        msg = refuse(engine, lambda: h.post(h.envelope("1101", person_query()), headers), 401, nonces_too=True)
    has(msg, "身份认证失败", "x-tif-paasid", "x-tif-signature")


@pytest.mark.parametrize("offset", [-360, 360], ids=["6-min-past", "6-min-future"])
def test_timestamp_out_of_window_is_401(engine, book, offset):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        stamp = int(time.time()) + offset
        msg = refuse(engine, lambda: h.post(h.envelope("1101", person_query()), h.headers(timestamp=stamp)), 401,
                     nonces_too=True)
    has(msg, "身份认证失败", "x-tif-timestamp", str(stamp), "超过 5 分钟")


def test_timestamp_4_minutes_old_is_accepted(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        reply = h.post(h.envelope("1101", person_query()), h.headers(timestamp=int(time.time()) - 240))
    assert reply.status_code == 200, reply.text
    assert reply.json()["infcode"] == 0 and reply.json()["output"]["baseinfo"]["psn_no"] == "A"


def test_nonce_replay_is_401(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        headers = h.headers()
        body = h.envelope("1101", person_query())
        first = h.post(body, headers)
        assert first.status_code == 200 and first.json()["infcode"] == 0, first.text
        msg = refuse(engine, lambda: h.post(body, headers), 401, nonces_too=True)
    has(msg, "身份认证失败", "x-tif-nonce", "重放")


def test_rotated_credential_old_refused_new_accepted(engine, book):
    with served(engine, book) as srv:
        old = Institution(srv.url, engine, H1)
        old.ok("1101", person_query())
        credentials_for(engine, H1, rotate=True)
        msg = refuse(engine, lambda: old.post(old.envelope("1101", person_query())), 401, nonces_too=True)
        new = Institution(srv.url, engine, H1)
        assert new.paasid != old.paasid
        assert new.ok("1101", person_query())["baseinfo"]["psn_no"] == "A"
    has(msg, "身份认证失败", "x-tif-paasid")


# --- the envelope -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, fragments", [
    (b"{not json", ["请求报文不是合法的 JSON"]),
    (b"[1, 2]", ["应为对象", "[1, 2]"]),
    (b'{"infno": "1101", "msgid": "a\\u0000b"}', ["NUL"]),
], ids=["malformed", "array", "nul"])
def test_not_an_envelope(engine, book, body, fragments):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        msg = refuse(engine, lambda: h.post(body))
    has(msg, *fragments)


@pytest.mark.parametrize("key", ["infno", "input", "msgid", "fixmedins_code"])
def test_envelope_key_missing(engine, book, key):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        msg = refused(engine, h, "1101", person_query(), **{key: DROP})
    has(msg, key, "缺少必填字段")


def test_envelope_of_another_institution_is_403(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        msg = refused(engine, h, "2201", {"data": reg_data()}, status=403, fixmedins_code=H2)
    has(msg, "fixmedins_code", H2, H1, "不符")


def test_unknown_infno(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        msg = refused(engine, h, "9999", {"data": {}})
    has(msg, "infno", "'9999'", "不支持")


# --- msgid --------------------------------------------------------------------------------------------------

def test_same_msgid_twice_answers_the_first_answer_again(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        body = h.envelope("2201", {"data": reg_data()})
        first = h.post(body)
        assert first.status_code == 200 and first.json()["infcode"] == 0, first.text
        before = data_of(engine)
        again = h.post(body)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        assert again.json()["inf_refmsgid"] == first.json()["inf_refmsgid"]
        assert again.json()["output"]["data"]["mdtrt_id"] == first.json()["output"]["data"]["mdtrt_id"]
        assert data_of(engine) == before
        assert visit_count(engine) == 1


def test_msgid_reused_for_another_infno(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        m = register(h)
        msgid = h.last_msgid
        msg = refused(engine, h, "2203", {"mdtrtinfo": {"mdtrt_id": m, "psn_no": "A", "med_type": "11"}},
                      msgid=msgid)
    has(msg, "msgid", msgid, "2201", "2203")


# --- fields -------------------------------------------------------------------------------------------------
# Each case runs against: `m`, A's visit at H1 with one uploaded line of 20.00 in batch B1, and `e`, B's visit
# with no lines. A builder makes the input from them; fragments are what the err_msg must hold.

def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


FIELDS = {
    "2201-missing-psn_no": ("2201", lambda w: {"data": _without(reg_data(otp="OTP9"), "psn_no")},
                            ["input.data.psn_no", "缺少必填字段"]),
    "2201-cert-of-another": ("2201", lambda w: {"data": reg_data(A, "OTP9", **cert(B))},
                             ["psn_no", "'A'", "持有人不符"]),
    "2201-unknown-psn_no": ("2201", lambda w: {"data": reg_data(A, "OTP9", psn_no="NOPE")},
                            ["psn_no", "'NOPE'", "不符"]),
    "5206-unknown-psn_no": ("5206", lambda w: {"data": {"psn_no": "NOPE"}}, ["psn_no", "'NOPE'", "查无此参保人"]),
    "1101-unknown-certno": ("1101", lambda w: {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": w.stranger}},
                            ["mdtrt_cert_no", mask_certno(person("Z", date(1990, 1, 1), serial=9)["certno"]),
                             "查无此参保人"]),
    "2204-unknown-mdtrt_id": ("2204", lambda w: {"feedetail": [fee("2", NO_VISIT)]},
                              ["mdtrt_id", f"'{NO_VISIT}'", "不存在"]),
    "2206-unknown-mdtrt_id": ("2206", lambda w: {"data": settle_data(NO_VISIT)},
                              ["mdtrt_id", f"'{NO_VISIT}'", "不存在"]),
    "2207-unknown-mdtrt_id": ("2207", lambda w: {"data": settle_data(NO_VISIT)},
                              ["mdtrt_id", f"'{NO_VISIT}'", "不存在"]),
    "2204-amount-not-pric-x-cnt": ("2204", lambda w: {"feedetail": [fee("2", w.m, amount=21)]},
                                   ["feedetail[0].det_item_fee_sumamt", "21.00", "20.00", "不符"]),
    "2204-feedetl_sn-uploaded-before": ("2204", lambda w: {"feedetail": [fee("1", w.m)]},
                                        ["feedetail[0].feedetl_sn", "'1'", "重复"]),
    "2204-feedetl_sn-twice-in-upload": ("2204", lambda w: {"feedetail": [fee("2", w.m), fee("2", w.m)]},
                                        ["feedetail[1].feedetl_sn", "'2'", "重复"]),
    "2204-not-in-catalogue": ("2204", lambda w: {"feedetail": [fee("2", w.m), fee("3", w.m, code="NOPE")]},
                              ["med_list_codg", "'NOPE'", "不在医保目录"]),
    "2206-sum-not-lines": ("2206", lambda w: {"data": settle_data(w.m, medfee_sumamt=30)},
                           ["medfee_sumamt", "30.00", "20.00", "不符"]),
    "2207-sum-not-lines": ("2207", lambda w: {"data": settle_data(w.m, medfee_sumamt=19.99)},
                           ["medfee_sumamt", "19.99", "20.00", "不符"]),
    "2207-no-lines": ("2207", lambda w: {"data": settle_data(w.e, B)}, ["chrg_bchno", "'B1'", "没有待结算"]),
    "2203-med_type-41": ("2203", lambda w: {"mdtrtinfo": {"mdtrt_id": w.m, "psn_no": "A", "med_type": "41"}},
                         ["med_type 41", "药店"]),
    "2203-med_type-21": ("2203", lambda w: {"mdtrtinfo": {"mdtrt_id": w.m, "psn_no": "A", "med_type": "21"}},
                         ["med_type", "'21'", "不受理"]),
    "2203-med_type-14-without-dise_codg": ("2203", lambda w: {"mdtrtinfo": {"mdtrt_id": w.m, "psn_no": "A",
                                                                            "med_type": "14"}},
                                           ["input.mdtrtinfo.dise_codg", "14"]),
    "2203-med_type-14-without-qualification": (
        "2203", lambda w: {"mdtrtinfo": {"mdtrt_id": w.m, "psn_no": "A", "med_type": "14", "dise_codg": "M03900"}},
        ["dise_codg", "'M03900'", "没有该病种的门诊慢特病备案"]),
    "2207-med_type-14-after-2203-med_type-11": ("2207", lambda w: {"data": settle_data(w.m, med_type="14")},
                                                ["med_type 14", "2203", "11", "不符"]),
    "2207-med_type-14-without-2203": ("2207", lambda w: {"data": settle_data(w.e, B, med_type="14")},
                                      ["med_type 14", "2203", "dise_codg"]),
    "2207-med_type-21": ("2207", lambda w: {"data": settle_data(w.m, med_type="21")}, ["med_type", "'21'", "不受理"]),
    "2207-acct_used_flag-2": ("2207", lambda w: {"data": settle_data(w.m, acct_used_flag="2")},
                              ["input.data.acct_used_flag", "'2'"]),
    "2205-nothing-to-withdraw": ("2205", lambda w: {"data": {"psn_no": "B", "mdtrt_id": w.e, "chrg_bchno": "0000"}},
                                 ["chrg_bchno", "'0000'", "没有可撤销"]),
}

AMOUNTS = {"abc": ("abc", ["应为金额数字", "'abc'"]), "negative": (-1, ["不能为负数", "-1"]),
           "3-decimals": (20.005, ["最多两位小数", "20.005"]), "absurd": (1e12, ["超出合理范围", "1000000000000"])}
for _infno in ("2206", "2207"):
    for _name, (_value, _words) in AMOUNTS.items():
        FIELDS[f"{_infno}-medfee_sumamt-{_name}"] = (
            _infno, lambda w, v=_value: {"data": settle_data(w.m, medfee_sumamt=v)},
            ["input.data.medfee_sumamt", *_words])


@pytest.mark.parametrize("case", list(FIELDS))
def test_field_refused(engine, book, case):
    infno, build, fragments = FIELDS[case]
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        world = SimpleNamespace(m=visit_with_fees(h), e=register(h, B, "OTP2"),
                                stranger=person("Z", date(1990, 1, 1), serial=9)["certno"])
        msg = refused(engine, h, infno, build(world))
    has(msg, *fragments)
    if case == "1101-unknown-certno":
        assert world.stranger not in msg  # the ID number is masked


def _insured_input(infno: str, m: str) -> dict:
    return {"2201": {"data": reg_data(otp="OTP9")}, "2204": {"feedetail": [fee("2", m)]},
            "2207": {"data": settle_data(m)}}[infno]


@pytest.mark.parametrize("value", [DROP, None, "320100"], ids=["absent", "null", "wrong"])
@pytest.mark.parametrize("infno", ["2201", "2204", "2207"])
def test_insuplc_admdvs_missing_or_wrong(engine, book, infno, value):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        m = visit_with_fees(h)
        msg = refused(engine, h, infno, _insured_input(infno, m), insuplc_admdvs=value)
    if value == "320100":
        has(msg, "insuplc_admdvs", "320100", "321000", "不符")
    else:
        has(msg, "insuplc_admdvs", "缺少必填字段")


# --- settling, reversing and correcting twice ---------------------------------------------------------------

def test_settling_a_settled_visit_again(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        m, info, _ = settled(h)
        msg = refused(engine, h, "2207", {"data": settle_data(m)})
    has(msg, "mdtrt_id", m, "已结算")


def test_reversing_twice(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        _, info, _ = settled(h)
        h.ok("2208", reversal(info))
        msg = refused(engine, h, "2208", reversal(info))
    has(msg, "setl_id", info["setl_id"], "已撤销")


def test_correction_refusals(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        _, info, msgid = settled(h)
        unknown = refused(engine, h, "2601", {"data": {"psn_no": "A", "omsgid": "NOSUCHMSG", "oinfno": "2207"}})
        mismatch = refused(engine, h, "2601", {"data": {"psn_no": "A", "omsgid": msgid, "oinfno": "2208"}})
        h.ok("2208", reversal(info))
        after_reversal = refused(engine, h, "2601", {"data": {"psn_no": "A", "omsgid": msgid, "oinfno": "2207"}})
    has(unknown, "omsgid", "'NOSUCHMSG'", "原交易不存在")
    has(mismatch, "oinfno", "2208", msgid, "2207", "不符")
    has(after_reversal, info["setl_id"], "已撤销")


# --- another institution's settlements and visits -----------------------------------------------------------

@pytest.mark.parametrize("infno", ["2208", "5203"])
def test_another_institutions_settlement_looks_missing(engine, book, infno):
    with served(engine, book) as srv:
        h1, h2 = Institution(srv.url, engine, H1), Institution(srv.url, engine, H2)
        m, info, _ = settled(h1)
        foreign = refused(engine, h2, infno, reversal(info))
        missing = refused(engine, h2, infno, reversal(info | {"setl_id": NO_SETTLEMENT}))
    has(foreign, "setl_id", info["setl_id"], "不存在")
    assert foreign == missing.replace(NO_SETTLEMENT, info["setl_id"])


@pytest.mark.parametrize("infno", ["2202", "2204"])
def test_another_institutions_visit_looks_missing(engine, book, infno):
    def input_for(m: str) -> dict:
        return {"data": {"psn_no": "A", "mdtrt_id": m}} if infno == "2202" else {"feedetail": [fee("2", m)]}

    with served(engine, book) as srv:
        h1, h2 = Institution(srv.url, engine, H1), Institution(srv.url, engine, H2)
        m = visit_with_fees(h1)
        foreign = refused(engine, h2, infno, input_for(m))
        missing = refused(engine, h2, infno, input_for(NO_VISIT))
    has(foreign, "mdtrt_id", m, "不存在")
    assert foreign == missing.replace(NO_VISIT, m)


def test_reconciliation_counts_only_own_settlements(engine, book):
    def totals(medfee: float = 0, fund: float = 0, acct: float = 0, count: int = 0) -> dict:
        return {"data": {"insutype": "310", "clr_type": "11", "setl_optins": "321000", "stmt_begndate": "2024-01-01",
                         "stmt_enddate": "2024-12-31", "medfee_sumamt": medfee, "fund_pay_sumamt": fund,
                         "acct_pay": acct, "fixmedins_setl_cnt": count}}

    with served(engine, book) as srv:
        h1, h2 = Institution(srv.url, engine, H1), Institution(srv.url, engine, H2)
        _, info, _ = settled(h1)
        before = data_of(engine)
        of_h2 = h2.ok("3201", totals())["stmtinfo"]
        of_h1_empty = h1.ok("3201", totals())["stmtinfo"]
        of_h1 = h1.ok("3201", totals(info["medfee_sumamt"], info["fund_pay_sumamt"], info["acct_pay"], 1))["stmtinfo"]
        assert data_of(engine) == before
    assert of_h2["stmt_rslt"] == "0", of_h2
    assert of_h1_empty["stmt_rslt"] == "1" and "fixmedins_setl_cnt 机构 0，中心 1" in of_h1_empty["stmt_rslt_dscr"]
    assert of_h1["stmt_rslt"] == "0", of_h1


# --- e-vouchers (01) and social security cards (03) ---------------------------------------------------------

def _altered(token: str) -> str:
    i = len(token) // 2
    while token[i] == ".":
        i += 1
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def test_e_voucher_accepted(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        token = vouchers.issue(engine, "A")
        out = h.ok("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}})
    assert out["baseinfo"]["psn_no"] == "A"


@pytest.mark.parametrize("case", ["altered", "expired", "of-another-person"])
def test_e_voucher_refused(engine, book, case):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        if case == "altered":
            token = _altered(vouchers.issue(engine, "A"))
            msg = refused(engine, h, "1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}})
            has(msg, "mdtrt_cert_no", "医保电子凭证无效")
        elif case == "expired":
            token = vouchers.issue(engine, "A", minutes=1, at=time.time() - 3600)
            msg = refused(engine, h, "1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}})
            has(msg, "mdtrt_cert_no", "医保电子凭证已过期")
        else:
            token = vouchers.issue(engine, "A")
            msg = refused(engine, h, "2201", {"data": reg_data(B, mdtrt_cert_type="01", mdtrt_cert_no=token)})
            has(msg, "psn_no", "'B'", "医保电子凭证", "持有人不符")


def test_social_security_card_needs_card_sn(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        card = {"mdtrt_cert_type": "03", "mdtrt_cert_no": A["certno"]}
        msg = refused(engine, h, "1101", {"data": card})
        assert h.ok("1101", {"data": card | {"card_sn": "K12345678"}})["baseinfo"]["psn_no"] == "A"
    has(msg, "card_sn", "03")


# --- the visit after settlement -----------------------------------------------------------------------------

def test_cancelling_a_settled_visit(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        m, info, _ = settled(h)
        msg = refused(engine, h, "2202", {"data": {"psn_no": "A", "mdtrt_id": m, "ipt_otp_no": "OTP1"}})
    has(msg, "mdtrt_id", m, "已结算", info["setl_id"])


def test_withdrawing_settled_fees(engine, book):
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        m, _, _ = settled(h)
        msg = refused(engine, h, "2205", {"data": {"psn_no": "A", "mdtrt_id": m, "chrg_bchno": "B1"}})
    has(msg, "chrg_bchno", "'B1'", "没有可撤销")


def test_a_failure_inside_gongji_is_answered_with_the_envelope_and_stores_nothing(engine, book, monkeypatch):
    def broken(call, body):
        raise RuntimeError("a bug")

    monkeypatch.setitem(interface.HANDLERS, "2201", broken)
    with served(engine, book) as srv:
        h = Institution(srv.url, engine, H1)
        msg = refused(engine, h, "2201", {"data": reg_data()}, status=500)
    has(msg, "系统内部错误")
