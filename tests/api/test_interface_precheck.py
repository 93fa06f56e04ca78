"""The national pre-check over real HTTP, on SQLite and PostgreSQL: 3101 (事前) and 3102 (事中) answer the same
findings as the checks inside a settlement, against the member's stored history, and settle nothing; 3103 records
what the institution did about each warning, all or nothing.

The world: M1, a man born 1970 (in service), at H1 (level 1); the knowledge base limits D01 to women
(GZ10000301004000 药品区分性别使用, 明确违规); D02 and D03 are unrestricted. Yangzhou (321000.yaml monitoring)
counts more than 8 clinic visits in 30 days as frequent (GZ10000204002000 频繁门诊, 可疑).
"""

from __future__ import annotations

from contextlib import contextmanager
from copy import deepcopy
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from gongji.services import monitor_queue
from gongji.services.imports import import_csv
from gongji.services.knowledge_import import import_csv as import_knowledge
from gongji.services.settlement import parse_settle, settle
from gongji.store.tables import monitor_hits, precheck_warnings, settlements
from tests.api.server import Institution, LiveServer
from tests.api.test_interface_errors import data_of
from tests.factories import csv_bytes, person, prescribe
from tests.services.test_imports import CATALOGUE_COLUMNS, item
from tests.services.test_knowledge_import_db import kb_csv, row
from tests.services.test_settlement_db import H1, H2, H3, P_POOLED, setup, visit

SEX, VISITS, DIAGNOSIS_SEX = "GZ10000301004000", "GZ10000204002000", "GZ10000204006000"
DAY = "2024-03-09"
ENCOUNTER = "input.data.patient_dtos[0].fsi_encounter_dtos[0]"


@contextmanager
def served(engine, book):
    """The world above, a live server and H1's client (H2's too: a second institution)."""
    setup(engine, book, [person("M1", date(1970, 1, 1), balc="0.00")])
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("D01"), item("D02"), item("D03")]), book)
    import_knowledge(engine, kb_csv(row("D01", "sex", "2"), row("O", "diagnosis_sex", "2"),
                                    row("C53", "diagnosis_sex", "2")))
    with LiveServer(engine, book) as server:
        h1, h2 = Institution(server.url, engine, H1), Institution(server.url, engine, H2)
        yield h1, h2


def order(rx_id: str, code: str, pric: str, cnt: str, sumamt: str, **extra) -> dict:
    return {"rx_id": rx_id, "rxno": "", "hilist_code": code, "hilist_name": f"药品{code}", "cnt": cnt, "pric": pric,
            "sumamt": sumamt, **extra}


# D01 10.50 x 2 = 21.00 (women only: the finding), D02 5.00 x 3 = 15.00
ORDERS = [order("RX-1", "D01", "10.50", "2", "21.00"), order("RX-2", "D02", "5.00", "3", "15.00")]
# D02 5.00 x 3 = 15.00, D03 2.50 x 4 = 10.00: nothing restricted, 25.00 in all
PLAIN = [order("RX-3", "D02", "5.00", "3", "15.00"), order("RX-4", "D03", "2.50", "4", "10.00")]


def encounter(orders: list[dict], mdtrt_id: str = "MZ0001", **changes) -> dict:
    return {"mdtrt_id": mdtrt_id, "medins_id": H1, "med_type": "11", "adm_date": DAY,
            "fsi_diagnose_dtos": [{"dise_codg": "J06.900", "dise_name": "上感", "maindise_flag": "1"}],
            "fsi_order_dtos": orders} | changes


def patient(*encounters: dict, **changes) -> dict:
    return {"patn_id": "M1", "patn_name": "测试M1", "gend": "1", "brdy": "1970-01-01",
            "fsi_encounter_dtos": list(encounters)} | changes


def message(*patients: dict, rule_ids: list[str] | None = None, trig_scen: str = "1") -> dict:
    data = {"trig_scen": trig_scen, "patient_dtos": deepcopy(list(patients) or [patient(encounter(ORDERS))])}
    return {"data": data | ({"rule_ids": rule_ids} if rule_ids is not None else {})}


def stored(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(precheck_warnings).order_by(precheck_warnings.c.checked_at,
                                                                                 precheck_warnings.c.jr_id))
                .mappings()]


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def settled_visits(engine, book, n: int, first: date = date(2024, 3, 1)) -> None:
    """n clinic visits of M1 at H1 on n days from `first`, 10.00 each."""
    for i in range(n):
        visit(engine, book, "M1", "10.00", on=first + timedelta(days=i))


def without_ids(result: list[dict]) -> list[dict]:
    """A 3101/3102 answer without what depends on the message (its ids)."""
    return [{k: v for k, v in r.items() if k not in ("jr_id", "task_id")}
            | {"judge_result_detail_dtos": [{k: v for k, v in d.items() if k != "jrd_id"}
                                            for d in r["judge_result_detail_dtos"]]} for r in result]


def refused(engine, h: Institution, infno: str, input: dict, **envelope) -> str:
    """The err_msg of a refused call, which changed nothing (but the nonce the request left)."""
    before = data_of(engine)
    msg = h.refused(infno, input, **envelope)
    assert data_of(engine) == before, msg
    return msg


def warn(jr_id: str, dspo_way: str = "1", rea: str | None = "患者知情，自愿自费") -> dict:
    return {"warn_rslt_id": jr_id, "dspo_way": dspo_way, "dspo_way_rea": rea}


# --- 3101 / 3102 ---------------------------------------------------------------------------------------------


def test_a_man_ordering_a_women_only_drug_is_warned_and_nothing_is_settled(engine, book):
    with served(engine, book) as (h, _):
        before = data_of(engine)
        [found] = h.ok("3101", message())["result"]
        msgid = h.last_msgid
    # D01 is the first order: 10.50 x 2 = 21.00 at stake
    assert {k: found[k] for k in ("rule_id", "rule_name", "sev_deg", "vola_amt", "vola_amt_stas", "patn_id",
                                  "mdtrt_id", "task_id", "vola_bhvr_type")} == {
        "rule_id": SEX, "rule_name": "药品区分性别使用", "sev_deg": "1", "vola_amt": 21.00, "vola_amt_stas": "1",
        "patn_id": "M1", "mdtrt_id": "MZ0001", "task_id": msgid, "vola_bhvr_type": "医疗类"}
    assert found["jr_id"].startswith("JR") and "code=D01" in found["vola_evid"]
    assert found["judge_result_detail_dtos"] == [
        {"jrd_id": f"{found['jr_id']}-1", "patn_id": "M1", "mdtrt_id": "MZ0001", "rx_id": "RX-1",
         "vola_item_type": "1", "vola_amt": 21.00}]
    [kept] = stored(engine)
    assert {k: kept[k] for k in ("jr_id", "fixmedins_code", "msgid", "infno", "trig_scen", "psn_no", "mdtrt_id",
                                 "rule", "code", "cls", "line", "amount", "dspo_way", "disposed_at")} == {
        "jr_id": found["jr_id"], "fixmedins_code": H1, "msgid": msgid, "infno": "3101", "trig_scen": "1",
        "psn_no": "M1", "mdtrt_id": "MZ0001", "rule": "sex", "code": SEX, "cls": "明确违规", "line": 1,
        "amount": 2100, "dspo_way": None, "disposed_at": None}
    # settles nothing: no settlement, no ledger row, no review-queue hit; only the warning and the answer are new
    assert (count(engine, settlements), count(engine, monitor_hits)) == (0, 0)
    after = data_of(engine)
    assert after.pop("precheck_warnings") != before.pop("precheck_warnings")
    assert len(after.pop("messages")) == len(before.pop("messages")) + 1
    assert after == before and after["ledger"] == before["ledger"]


def test_3102_answers_what_3101_answers_and_is_kept_as_3102(engine, book):
    with served(engine, book) as (h, _):
        first = h.ok("3101", message())["result"]
        second = h.ok("3102", message(trig_scen="6"))["result"]
    assert without_ids(second) == without_ids(first) and len(second) == 1
    assert second[0]["jr_id"] != first[0]["jr_id"]
    assert sorted((w["infno"], w["trig_scen"], w["jr_id"]) for w in stored(engine)) == [
        ("3101", "1", first[0]["jr_id"]), ("3102", "6", second[0]["jr_id"])]


def test_the_settlement_of_the_same_orders_warns_under_the_rule_codes_the_precheck_answered(engine, book):
    with served(engine, book) as (h, _):
        answered = {r["rule_id"] for r in h.ok("3101", message())["result"]}
    done = settle(engine, book, parse_settle({
        "psn_no": "M1", "fixmedins_code": H1, "date": DAY,
        "lines": [{"med_list_codg": o["hilist_code"], "pric": o["pric"], "cnt": o["cnt"]} for o in ORDERS]}))
    with engine.connect() as conn:
        queued = {hit["code"] for hit in monitor_queue.queue(conn)}
    assert answered == queued == {SEX}
    assert f"智能监控提示 {SEX}（明确违规）" in done.row["proc_info_zh"]


def test_earlier_settlements_make_the_ninth_visit_in_30_days_frequent_for_the_whole_encounter(engine, book):
    with served(engine, book) as (h, _):
        settled_visits(engine, book, 7)  # 03-01 .. 03-07
        assert h.ok("3101", message(patient(encounter(PLAIN))))["result"] == []  # 8 visits in 30 days: not > 8
        settled_visits(engine, book, 1, date(2024, 3, 8))
        [found] = h.ok("3101", message(patient(encounter(PLAIN))))["result"]  # 9 > 8
    assert (found["rule_id"], found["rule_name"], found["sev_deg"], found["vola_bhvr_type"]) == (
        VISITS, "频繁门诊", "2", "管理类")
    assert "visits=9" in found["vola_evid"] and "limit=8" in found["vola_evid"]
    # a finding on the whole encounter: every order as 涉及项, the encounter's total 15.00 + 10.00 = 25.00
    assert found["vola_amt"] == 25.00
    assert [(d["rx_id"], d["vola_item_type"], d["vola_amt"]) for d in found["judge_result_detail_dtos"]] == [
        ("RX-3", "2", 15.00), ("RX-4", "2", 10.00)]
    [kept] = stored(engine)
    assert (kept["rule"], kept["cls"], kept["line"], kept["amount"]) == ("frequent_visits", "可疑", None, 2500)


def test_rule_ids_keep_only_the_rules_asked_for(engine, book):
    with served(engine, book) as (h, _):
        settled_visits(engine, book, 8)
        both = h.ok("3101", message())["result"]
        only = h.ok("3101", message(rule_ids=[VISITS]))["result"]
        none = h.ok("3101", message(rule_ids=[DIAGNOSIS_SEX]))["result"]
    assert sorted(r["rule_id"] for r in both) == [VISITS, SEX]
    assert [r["rule_id"] for r in only] == [VISITS] and none == []


def test_an_unknown_rule_id_is_refused(engine, book):
    with served(engine, book) as (h, _):
        msg = refused(engine, h, "3101", message(rule_ids=["GZ99999999999999"]))
    assert "input.data.rule_ids[0] 'GZ99999999999999'" in msg and "国家智能监管规则库" in msg


def test_the_same_3101_msgid_again_gets_the_same_answer_and_keeps_the_warnings_once(engine, book):
    with served(engine, book) as (h, _):
        first = h.call("3101", message(), msgid="H32100000001202403090000000001")
        second = h.call("3101", message(), msgid="H32100000001202403090000000001")
    assert first["infcode"] == 0 and second == first
    assert [w["jr_id"] for w in stored(engine)] == [first["output"]["result"][0]["jr_id"]]


def test_the_first_order_day_stands_for_a_missing_adm_date(engine, book):
    # without adm_date the visit is on the earliest drord_begn_date: 03-09, the ninth visit in 30 days
    orders = [order("RX-3", "D02", "5.00", "3", "15.00", drord_begn_date="2024-03-10"),
              order("RX-4", "D03", "2.50", "4", "10.00", drord_begn_date="2024-03-09")]
    with served(engine, book) as (h, _):
        settled_visits(engine, book, 8)
        [found] = h.ok("3101", message(patient(encounter(orders, adm_date=None))))["result"]
    assert found["rule_id"] == VISITS and "visits=9" in found["vola_evid"]


def test_two_diagnoses_of_the_other_sex_are_both_answered(engine, book):
    # O80 (pregnancy) and C53.9 (cervix) are for women only: two findings of 诊断与患者性别不符 on one encounter
    diagnoses = [{"dise_codg": "O80.000", "maindise_flag": "1"}, {"dise_codg": "C53.900", "maindise_flag": "0"}]
    with served(engine, book) as (h, _):
        body = h.call("3101", message(patient(encounter(PLAIN, fsi_diagnose_dtos=diagnoses))))
    assert body["infcode"] == 0, body["err_msg"]
    found = body["output"]["result"]
    assert [r["rule_id"] for r in found] == [DIAGNOSIS_SEX, DIAGNOSIS_SEX]
    assert len({r["jr_id"] for r in found}) == 2 and len(stored(engine)) == 2


def _patient(m: dict) -> dict:
    return m["data"]["patient_dtos"][0]


def _encounter(m: dict) -> dict:
    return _patient(m)["fsi_encounter_dtos"][0]


BAD = {
    "medins_id not the caller": (lambda m: _encounter(m).update(medins_id=H2),
                                 f"{ENCOUNTER}.medins_id {H2} 与发送报文的机构 {H1} 不符"),
    # 10.50 x 2 = 21.00, not 20.00
    "sumamt not pric x cnt": (lambda m: _encounter(m)["fsi_order_dtos"][0].update(sumamt="20.00"),
                              f"{ENCOUNTER}.fsi_order_dtos[0].sumamt 20.00 与 pric × cnt = 21.00 不符"),
    "unknown patn_id": (lambda m: _patient(m).update(patn_id="NOSUCH"),
                        "input.data.patient_dtos[0].patn_id 'NOSUCH' 查无此参保人"),
    "gend not the registered one": (lambda m: _patient(m).update(gend="2"),
                                    "input.data.patient_dtos[0].gend 2 与参保人 M1 的登记信息（1）不符"),
    "trig_scen 0": (lambda m: m["data"].update(trig_scen="0"), "input.data.trig_scen: 应为"),
    "no day at all": (lambda m: _encounter(m).update(adm_date=None), f"{ENCOUNTER}.adm_date：缺少就诊日期"),
    "no patient": (lambda m: m["data"].update(patient_dtos=[]), "input.data.patient_dtos"),
    "no policy in force": (lambda m: _encounter(m).update(adm_date="1990-01-01"),
                           f"{ENCOUNTER}.adm_date 1990-01-01：参保地 321000 当日没有有效政策"),
    "the same visit twice": (lambda m: _patient(m)["fsi_encounter_dtos"].append(deepcopy(_encounter(m))),
                             "input.data.patient_dtos[0].fsi_encounter_dtos[1].mdtrt_id 'MZ0001' 在本次报文中重复"),
    "the same patient twice": (lambda m: m["data"]["patient_dtos"].append(
        patient(encounter(PLAIN, mdtrt_id="MZ0002"))), "input.data.patient_dtos[1].patn_id 'M1' 在本次报文中重复"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_precheck_is_refused_naming_field_and_value(engine, book, case):
    change, expected = BAD[case]
    bad = message()
    change(bad)
    with served(engine, book) as (h, _):
        msg = refused(engine, h, "3101", bad)
    assert expected in msg
    if case == "trig_scen 0":
        assert "'0'" in msg
    if case == "no patient":
        assert "[]" in msg


# --- 3103 -----------------------------------------------------------------------------------------------------


def test_going_on_with_a_reason_is_recorded(engine, book):
    with served(engine, book) as (h, _):
        [found] = h.ok("3101", message())["result"]
        assert h.ok("3103", {"data": {"warn_type": "1", "warns": [warn(found["jr_id"])]}}) == {}
    [kept] = stored(engine)
    assert (kept["dspo_way"], kept["dspo_way_rea"], kept["warn_type"]) == ("1", "患者知情，自愿自费", "1")
    assert kept["disposed_at"] is not None and kept["disposed_at"] >= kept["checked_at"]


def test_going_back_to_change_needs_no_reason(engine, book):
    with served(engine, book) as (h, _):
        [found] = h.ok("3102", message(trig_scen="6"))["result"]
        h.ok("3103", {"data": {"warn_type": "2", "warns": [warn(found["jr_id"], "2", None)]}})
    [kept] = stored(engine)
    assert (kept["dspo_way"], kept["dspo_way_rea"], kept["warn_type"]) == ("2", None, "2")


def test_going_on_without_a_reason_is_refused(engine, book):
    with served(engine, book) as (h, _):
        [found] = h.ok("3101", message())["result"]
        msg = refused(engine, h, "3103", {"data": {"warn_type": "1", "warns": [warn(found["jr_id"], rea="")]}})
    assert "input.data.warns[0].dspo_way_rea" in msg and "必须填写处理原因" in msg


def test_an_unknown_or_another_institutions_warning_is_refused(engine, book):
    with served(engine, book) as (h1, h2):
        [found] = h1.ok("3101", message())["result"]
        unknown = refused(engine, h1, "3103", {"data": {"warn_type": "1", "warns": [warn("JRNOSUCHWARNING")]}})
        other = refused(engine, h2, "3103", {"data": {"warn_type": "1", "warns": [warn(found["jr_id"])]}})
    assert "input.data.warns[0].warn_rslt_id 'JRNOSUCHWARNING' 不是本机构" in unknown
    assert f"input.data.warns[0].warn_rslt_id {found['jr_id']!r} 不是本机构（{H2}）" in other


def test_a_warning_answered_before_is_refused(engine, book):
    with served(engine, book) as (h, _):
        [found] = h.ok("3101", message())["result"]
        h.ok("3103", {"data": {"warn_type": "1", "warns": [warn(found["jr_id"])]}})
        again = refused(engine, h, "3103", {"data": {"warn_type": "1", "warns": [warn(found["jr_id"], "2")]}})
    assert f"input.data.warns[0].warn_rslt_id {found['jr_id']!r} 已反馈过" in again


def test_one_bad_warning_records_none_of_the_message(engine, book):
    with served(engine, book) as (h, _):
        settled_visits(engine, book, 8)
        first, second = h.ok("3101", message())["result"]
        twice = refused(engine, h, "3103", {"data": {"warn_type": "1", "warns": [
            warn(first["jr_id"]), warn(second["jr_id"]), warn(first["jr_id"], "2")]}})
        unknown = refused(engine, h, "3103", {"data": {"warn_type": "1", "warns": [
            warn(first["jr_id"]), warn("JRNOSUCHWARNING")]}})
    assert f"input.data.warns[2].warn_rslt_id {first['jr_id']!r} 已反馈过" in twice
    assert "input.data.warns[1].warn_rslt_id 'JRNOSUCHWARNING'" in unknown
    assert [w["dspo_way"] for w in stored(engine)] == [None, None]


def test_the_same_3103_msgid_again_gets_the_same_answer(engine, book):
    with served(engine, book) as (h, _):
        [found] = h.ok("3101", message())["result"]
        answer = {"data": {"warn_type": "1", "warns": [warn(found["jr_id"])]}}
        first = h.call("3103", answer, msgid="H32100000001202403090000000002")
        [kept] = stored(engine)
        second = h.call("3103", answer, msgid="H32100000001202403090000000002")
    assert first["infcode"] == 0 and second == first
    assert stored(engine) == [kept]


def test_a_patient_insured_elsewhere_than_the_envelope_says_is_refused(engine, book):
    with served(engine, book) as (h, _):
        msg = refused(engine, h, "3101", message(), insuplc_admdvs="110000")
    assert msg == "insuplc_admdvs 110000 与参保人 M1 的参保地 321000 不符"


def test_gongji_s_own_rules_may_be_asked_for(engine, book):
    # 家庭共济账户异常使用 is gongji's own rule beyond the national base: asked for alone, nothing else is answered
    with served(engine, book) as (h, _):
        assert h.ok("3101", message(rule_ids=["家庭共济账户异常使用"]))["result"] == []


def test_at_a_pharmacy_the_prescription_writer_s_level_counts(engine, book):
    # D03 is paid at level 2 or higher (限医疗机构级别); the pharmacy itself has no level, H3 (level 3) wrote the
    # prescription: on it the sale breaks nothing; bought without it, the level is the pharmacy's (none: 0)
    with served(engine, book):
        import_knowledge(engine, kb_csv(row("D03", "level", "2")))
        rxno = prescribe(engine, book, "M1", H3, on=date(2024, 3, 9), drugs=("D03",))
        with LiveServer(engine, book) as server:
            p = Institution(server.url, engine, P_POOLED)
            # D03 2.50 x 4 = 10.00
            sale = [order("RX-9", "D03", "2.50", "4", "10.00", rxno=rxno)]
            on_rx = p.ok("3101", message(patient(encounter(sale, medins_id=P_POOLED, med_type="41"))))["result"]
            sale[0]["rxno"] = ""
            bare = p.ok("3101", message(patient(encounter(sale, mdtrt_id="MZ0002", medins_id=P_POOLED,
                                                          med_type="41"))))["result"]
    assert on_rx == []
    assert [(r["rule_id"], r["vola_amt"]) for r in bare] == [("GZ10000101012000", 10.00)]
