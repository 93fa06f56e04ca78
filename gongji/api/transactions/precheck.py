"""明细审核 (the national pre-check): 3101 事前分析 and 3102 事中分析 check a patient's encounters before they are
settled and answer the findings (output.result[]); 3103 事前事中分析反馈 records what the institution did about
each one. The message layout is the national one HIS clients send (data.patient_dtos[].fsi_encounter_dtos[] with
fsi_diagnose_dtos[] and fsi_order_dtos[]); fields gongji does not use (wards, departments, operations, prices of
the hospital's own list...) are accepted and ignored.

In the answer: `sev_deg` is 1 明确违规 or 2 可疑, `vola_amt_stas` 1 (computed), `vola_bhvr_type` the national
rule's group (政策类, 医疗类...), `vola_evid` the restriction and values compared, `task_id` the message's msgid.
A finding on one order lists that order as 违规项 (vola_item_type 1); one on the whole encounter lists each order
as 涉及项 (2).
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from gongji.api.envelope import Amount, Code, Count, Day, Node, Price, code, optional, yuan
from gongji.api.transactions.call import Call, parse, person_row
from gongji.engine.bill import line_amount
from gongji.errors import InputError
from gongji.monitor.checkers import DEFINITE, RULES
from gongji.monitor.coverage import national_rules
from gongji.services import prechecks
from gongji.services.prechecks import Disposition, Encounter, Order, Result
from gongji.store.db import transaction

MAX_ORDERS = 1000


def _blank(value: object) -> object:
    return None if value in (None, "") else value


OptionalDay = Annotated[Day | None, BeforeValidator(_blank)]


class OrderDto(Node):
    """fsi_order_dtos[]: one order (处方/医嘱) line."""

    rx_id: optional(50) = None
    rxno: optional(40) = None
    hilist_type: optional(3) = None
    hilist_code: code(50)
    hilist_name: optional(200) = None
    cnt: Annotated[Count, Field(gt=0)]
    pric: Price
    sumamt: Amount
    drord_begn_date: OptionalDay = None


class DiagnoseDto(Node):
    """fsi_diagnose_dtos[]: one diagnosis; the main one (maindise_flag 1) is read first."""

    dise_codg: code(30)
    dise_name: optional(200) = None
    maindise_flag: optional(1) = None


class EncounterDto(Node):
    """fsi_encounter_dtos[]: one visit."""

    mdtrt_id: code(50)
    medins_id: code(30)
    med_type: Code
    adm_date: OptionalDay = None
    """the visit's day (门诊: its date); without it, the earliest drord_begn_date."""
    fsi_diagnose_dtos: Annotated[list[DiagnoseDto], Field(max_length=100)] = []
    fsi_order_dtos: Annotated[list[OrderDto], Field(max_length=MAX_ORDERS)] = []


class PatientDto(Node):
    patn_id: code(30)
    """参保人ID: the person's psn_no."""
    patn_name: optional(50) = None
    gend: optional(1) = None
    brdy: OptionalDay = None
    curr_mdtrt_id: optional(50) = None
    fsi_encounter_dtos: Annotated[list[EncounterDto], Field(min_length=1, max_length=50)]


class PrecheckData(Node):
    patient_dtos: Annotated[list[PatientDto], Field(min_length=1, max_length=100)]
    trig_scen: Annotated[Literal[tuple(prechecks.SCENES)], BeforeValidator(lambda v: str(v) if isinstance(v, int)
                                                                         else v)]
    rule_ids: Annotated[list[Code], Field(max_length=200)] = []


class PrecheckInput(Node):
    data: PrecheckData


OWN_GROUP = "其他"
"""vola_bhvr_type of gongji's own rules beyond the national base (traceability, stays, institutions, families)."""


@cache
def _rules() -> dict[str, dict]:
    """Every rule code gongji answers: the national rule base by code (or by name for the 2025 rules without one),
    and its own checkers' (their code is their Chinese name)."""
    own = {code: {"name": code, "group": OWN_GROUP} for rule in RULES.values() for code in rule.codes.values()}
    return own | {r["code"] or r["name"]: r for r in national_rules()}


def precheck(call: Call, body: dict) -> None:
    """3101 and 3102: every finding on the message's encounters, kept with the answer."""
    req = parse(PrecheckInput, body, "input").data
    root = "input.data"
    for i, rule_id in enumerate(req.rule_ids):
        if rule_id not in _rules():
            raise InputError(f"data.rule_ids[{i}]: {rule_id!r} is not a rule gongji checks",
                             f"{root}.rule_ids[{i}] {rule_id!r} 不是本系统审核的规则（国家智能监管规则库的编码或名称）")
    _no_repeats(req, root)
    with transaction(call.engine) as conn:
        results: list[Result] = []
        for i, patient in enumerate(req.patient_dtos):
            field = f"{root}.patient_dtos[{i}]"
            _same_person(call, conn, patient, field)
            encounters = [_encounter(call, e, f"{field}.fsi_encounter_dtos[{j}]")
                          for j, e in enumerate(patient.fsi_encounter_dtos)]
            results += prechecks.check(conn, call.book, call.fixmedins_code, call.envelope.msgid, patient.patn_id,
                                       f"{field}.patn_id", encounters, frozenset(req.rule_ids))
        prechecks.record(conn, call.fixmedins_code, call.envelope.msgid, call.envelope.infno, req.trig_scen, results)
        call.commit(conn, {"result": [_result(call, r) for r in results]})


def _no_repeats(req: PrecheckData, root: str) -> None:
    """Each patient and each visit (mdtrt_id) once in a message."""
    patients: set[str] = set()
    visits: set[str] = set()
    for i, patient in enumerate(req.patient_dtos):
        if patient.patn_id in patients:
            raise InputError(f"data.patient_dtos[{i}].patn_id: {patient.patn_id!r} appears twice in the message",
                             f"{root}.patient_dtos[{i}].patn_id {patient.patn_id!r} 在本次报文中重复")
        patients.add(patient.patn_id)
        for j, e in enumerate(patient.fsi_encounter_dtos):
            if e.mdtrt_id in visits:
                raise InputError(f"data.patient_dtos[{i}].fsi_encounter_dtos[{j}].mdtrt_id: {e.mdtrt_id!r} appears "
                                 "twice in the message",
                                 f"{root}.patient_dtos[{i}].fsi_encounter_dtos[{j}].mdtrt_id {e.mdtrt_id!r} "
                                 "在本次报文中重复")
            visits.add(e.mdtrt_id)


def _same_person(call: Call, conn, patient: PatientDto, field: str) -> None:
    """The message's sex and birth date, when given, are the registered person's, and the envelope's
    insuplc_admdvs, when given, where the person is insured."""
    try:
        person = person_row(conn, patient.patn_id)
    except InputError:
        raise InputError(f"{field}.patn_id: {patient.patn_id!r} is not a registered person",
                         f"{field}.patn_id {patient.patn_id!r} 查无此参保人") from None
    region = call.envelope.insuplc_admdvs
    if region and region != person["insuplc_admdvs"]:
        raise InputError(f"insuplc_admdvs: {region} is not where {patient.patn_id} is insured",
                         f"insuplc_admdvs {region} 与参保人 {patient.patn_id} 的参保地 {person['insuplc_admdvs']} 不符")
    for name, given, known in (("gend", patient.gend, person["gend"]), ("brdy", patient.brdy, person["brdy"])):
        if given is not None and given != known:
            raise InputError(f"{field}.{name}: {given} is not {patient.patn_id}'s ({known})",
                             f"{field}.{name} {given} 与参保人 {patient.patn_id} 的登记信息（{known}）不符")


def _encounter(call: Call, e: EncounterDto, field: str) -> Encounter:
    if e.medins_id != call.fixmedins_code:
        raise InputError(f"{field}.medins_id: {e.medins_id} is not the calling institution {call.fixmedins_code}",
                         f"{field}.medins_id {e.medins_id} 与发送报文的机构 {call.fixmedins_code} 不符")
    orders = []
    for k, o in enumerate(e.fsi_order_dtos):
        expected = line_amount(o.pric, o.cnt)
        if o.sumamt != expected:
            raise InputError(f"{field}.fsi_order_dtos[{k}].sumamt: {o.sumamt} fen is not pric x cnt ({expected} fen)",
                             f"{field}.fsi_order_dtos[{k}].sumamt {o.sumamt / 100:.2f} 与 pric × cnt "
                             f"= {expected / 100:.2f} 不符")
        orders.append(Order(o.rx_id, o.rxno, o.hilist_code, o.cnt, o.pric, o.sumamt))
    days = [o.drord_begn_date for o in e.fsi_order_dtos if o.drord_begn_date]
    on = e.adm_date or (min(days) if days else None)
    if on is None:
        raise InputError(f"{field}.adm_date: missing, and no order has drord_begn_date",
                         f"{field}.adm_date：缺少就诊日期（医嘱也没有 drord_begn_date）")
    main_first = sorted(e.fsi_diagnose_dtos, key=lambda d: d.maindise_flag != "1")
    return Encounter(e.mdtrt_id, on, e.med_type, tuple(d.dise_codg for d in main_first), tuple(orders), field)


def _result(call: Call, r: Result) -> dict:
    f, encounter = r.finding, r.encounter
    rule = _rules()[f.code]
    name = rule["name"]
    if f.line:
        details = [(f.line, "1", encounter.orders[f.line - 1])]
    else:
        details = [(sn, "2", o) for sn, o in enumerate(encounter.orders, start=1)]
    return {
        "jr_id": r.jr_id, "rule_id": f.code, "rule_name": name, "vola_cont": f"{name}（{f.cls}）",
        "patn_id": r.psn_no, "mdtrt_id": encounter.mdtrt_id, "vola_amt": yuan(r.amount), "vola_amt_stas": "1",
        "sev_deg": "1" if f.cls == DEFINITE else "2", "vola_evid": f.evidence,
        "vola_bhvr_type": rule["group"], "task_id": call.envelope.msgid,
        "judge_result_detail_dtos": [
            {"jrd_id": f"{r.jr_id}-{sn}", "patn_id": r.psn_no, "mdtrt_id": encounter.mdtrt_id,
             "rx_id": o.rx_id or o.rxno or "", "vola_item_type": kind, "vola_amt": yuan(o.amount)}
            for sn, kind, o in details],
    }


# --- 3103 ---------------------------------------------------------------------------------------------------

class WarnDto(Node):
    warn_rslt_id: code(50)
    """the jr_id 3101/3102 answered."""
    dspo_way: Annotated[Literal["1", "2"], BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]
    dspo_way_rea: optional(500) = None


class FeedbackData(Node):
    warn_type: Annotated[Literal["1", "2"], BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]
    """1 事前 (a 3101 result), 2 事中 (3102)."""
    warns: Annotated[list[WarnDto], Field(min_length=1, max_length=500)]


class FeedbackInput(Node):
    data: FeedbackData


def feedback(call: Call, body: dict) -> None:
    """3103: what the institution did about each warning, all recorded or none."""
    req = parse(FeedbackInput, body, "input").data
    dispositions = [Disposition(w.warn_rslt_id, w.dspo_way, w.dspo_way_rea, f"input.data.warns[{i}]")
                    for i, w in enumerate(req.warns)]
    with transaction(call.engine) as conn:
        prechecks.dispose(conn, call.fixmedins_code, req.warn_type, dispositions)
        call.commit(conn, {})
