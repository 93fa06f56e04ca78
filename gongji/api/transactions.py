"""The transactions (infno) of the national interface: each parses its input nodes, calls the services and
returns its output nodes (NHSA.md §4). Write transactions store their answer with `Call.commit` inside their own
transaction, so a repeated msgid gets the same answer and moves no money."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, Field, ValidationError
from sqlalchemy import Connection, Engine, bindparam, func, insert, select

from gongji.api.envelope import (
    SUCCESS,
    Amount,
    Code,
    Count,
    Envelope,
    Node,
    OptionalText,
    Price,
    Time,
    ratio,
    response,
    scaled,
    yuan,
    zh_errors,
)
from gongji.engine.dates import age_on
from gongji.errors import InputError, describe
from gongji.masking import mask_certno
from gongji.policy.loader import PolicyBook
from gongji.services import settlement as settling
from gongji.services import visits, vouchers
from gongji.services.settlement import CLR_TYPE, MED_TYPES, Settlement, SettleRequest
from gongji.store.db import transaction
from gongji.store.ledger import now
from gongji.store.tables import accounts, accumulators, messages, persons, settlements, sign_ins


@dataclass
class Call:
    """One authenticated message: the institution it comes from and its envelope."""

    engine: Engine
    book: PolicyBook
    envelope: Envelope
    admdvs: str
    answer: dict | None = field(default=None)

    @property
    def fixmedins_code(self) -> str:
        return self.envelope.fixmedins_code

    @property
    def key(self) -> str:
        """The settlement service's idempotency key of this message."""
        return f"{self.fixmedins_code}:{self.envelope.msgid}"

    def commit(self, conn: Connection, output: object) -> None:
        """Answer the message inside the transaction that did its work, and remember the answer."""
        self.answer = response(SUCCESS, output, None, self.admdvs)
        conn.execute(_REMEMBER, {"fixmedins_code": self.fixmedins_code, "msgid": self.envelope.msgid,
                                 "infno": self.envelope.infno, "response": orjson.dumps(self.answer).decode(),
                                 "recorded_at": now()})


# Statements of every request, built once (building SQLAlchemy expressions costs more than running them).
_REMEMBER = insert(messages)
_ANSWERED = select(messages.c.infno, messages.c.response).where(
    messages.c.fixmedins_code == bindparam("code"), messages.c.msgid == bindparam("msgid"))
_PERSON = select(persons).where(persons.c.psn_no == bindparam("psn_no"))
_PERSON_BY_CERTNO = select(persons).where(persons.c.certno == bindparam("certno"))


def stored_answer(conn: Connection, fixmedins_code: str, msgid: str) -> tuple[str, dict] | None:
    found = conn.execute(_ANSWERED, {"code": fixmedins_code, "msgid": msgid}).first()
    return None if found is None else (found.infno, orjson.loads(found.response))


def _parse(model: type[BaseModel], data: object, root: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc)[0], zh_errors(exc, root)) from None


# --- who the patient is -------------------------------------------------------------------------------------

CERT_TYPES = {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"}


class Credential(Node):
    mdtrt_cert_type: Code
    mdtrt_cert_no: Annotated[str, Field(min_length=1, max_length=500)]
    card_sn: OptionalText = None


def _person(conn: Connection, psn_no: str) -> Mapping:
    found = conn.execute(_PERSON, {"psn_no": psn_no}).mappings().first()
    if found is None:
        raise InputError(f"psn_no: {psn_no!r} is not a registered person", f"psn_no {psn_no!r} 查无此参保人")
    return found


def _holder(call: Call, conn: Connection, cred: Credential) -> Mapping:
    """The person a medical credential (就诊凭证) identifies."""
    kind, number = cred.mdtrt_cert_type, cred.mdtrt_cert_no
    if kind == "01":
        return _person(conn, vouchers.holder(call.engine, number))
    if kind not in CERT_TYPES:
        raise InputError(f"mdtrt_cert_type: {kind!r} is not 01, 02 or 03",
                         f"mdtrt_cert_type {kind!r} 不受理：应为 01 医保电子凭证、02 居民身份证或 03 社会保障卡")
    if kind == "03" and not cred.card_sn:
        raise InputError("card_sn: missing (required with a social security card, 03)",
                         "card_sn: 使用社会保障卡（03）就诊时必须提供卡识别码 card_sn")
    # The social security number (社会保障号码) on the card is the holder's ID number.
    found = conn.execute(_PERSON_BY_CERTNO, {"certno": number.strip().upper()}).mappings().first()
    if found is None:
        raise InputError(f"mdtrt_cert_no: {mask_certno(number)} is no insured person",
                         f"mdtrt_cert_no {mask_certno(number)} 查无此参保人")
    return found


def _patient(call: Call, conn: Connection, psn_no: str, cred: Credential) -> Mapping:
    """The person psn_no, who must be the holder of the credential and insured where the envelope says."""
    holder = _holder(call, conn, cred)
    if holder["psn_no"] != psn_no:
        raise InputError(f"psn_no: {psn_no!r} is not the holder of the credential",
                         f"psn_no {psn_no!r} 与就诊凭证（{CERT_TYPES[cred.mdtrt_cert_type]}）的持有人不符")
    _insured_here(call, holder)
    return holder


def _insured_here(call: Call, person: Mapping) -> None:
    given = call.envelope.insuplc_admdvs
    if not given:
        raise InputError("insuplc_admdvs: missing (required when the input names psn_no)",
                         "insuplc_admdvs: 缺少必填字段（入参含 psn_no 时必须填写参保地医保区划）")
    if given != person["insuplc_admdvs"]:
        raise InputError(f"insuplc_admdvs: {given} is not where {person['psn_no']} is insured",
                         f"insuplc_admdvs {given} 与参保人 {person['psn_no']} 的参保地 {person['insuplc_admdvs']} 不符")


# --- outputs ------------------------------------------------------------------------------------------------

_SETL_AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                 "act_pay_dedc", "hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay",
                 "oth_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "hosp_part_amt", "balc",
                 "acct_mulaid_pay")


def _setlinfo(s: Settlement, person: Mapping, committed: bool) -> dict:
    info, row = settling.setlinfo(s), s.row
    out = {"mdtrt_id": row["mdtrt_id"], "setl_id": row["setl_id"] if committed else None,
           "psn_no": row["psn_no"], "psn_name": person["psn_name"], "psn_cert_type": "01",
           "certno": person["certno"], "gend": person["gend"], "naty": None, "brdy": person["brdy"].isoformat(),
           "age": row["age"], "insutype": info["insutype"], "psn_type": person["psn_type"], "cvlserv_flag": "0",
           "setl_time": info["setl_time"], "mdtrt_cert_type": row.get("mdtrt_cert_type"),
           "med_type": row["med_type"]}
    out |= {name: yuan(info[name]) for name in _SETL_AMOUNTS}
    out |= {"pool_prop_selfpay": ratio(row["pool_prop"]), "medins_setl_id": row.get("medins_setl_id"),
            "clr_optins": info["clr_optins"] if committed else None, "clr_way": info["clr_way"] if committed else None,
            "clr_type": info["clr_type"], "hosp_lv": info["hosp_lv"], "refd_setl_flag": "1" if row["reverses"] else "0",
            "setl_proc_info": info["setl_proc_info"], "inpatient_pay": yuan(info["inpatient_pay"])}
    return out


def _setldetail(s: Settlement) -> list[dict]:
    """The pooled fund (310100) and account (310200) lines, where non-zero."""
    row = s.row
    fund = row["hifp_pay"] + row["inpatient_pay"]
    lines = []
    if fund:
        lines.append({"fund_pay_type": "310100", "fund_pay_type_name": "职工基本医疗保险统筹基金",
                      "inscp_scp_amt": yuan(row["inscp_scp_amt"]), "crt_payb_lmt_amt": None,
                      "fund_payamt": yuan(fund), "setl_proc_info": row["no_pool_reason"]})
    if row["acct_pay"]:
        lines.append({"fund_pay_type": "310200", "fund_pay_type_name": "职工基本医疗保险个人账户基金",
                      "inscp_scp_amt": yuan(row["inscp_scp_amt"]), "crt_payb_lmt_amt": None,
                      "fund_payamt": yuan(row["acct_pay"]),
                      "setl_proc_info": f"其中家庭共济 {row['acct_mulaid_pay'] / 100:.2f}" if row["acct_mulaid_pay"]
                      else None})
    return lines


def _line_split(line: Mapping) -> dict:
    """One fee line's split, under the 2204 result / 2101 detlcutinfo names."""
    return {"feedetl_sn": str(line["feedetl_sn"]), "det_item_fee_sumamt": yuan(line["det_item_fee_sumamt"]),
            "cnt": scaled(line["cnt"]), "pric": scaled(line["pric"]), "pric_uplmt_amt": scaled(line.get("pay_std")),
            "selfpay_prop": ratio(line.get("selfpay_prop", 0)), "fulamt_ownpay_amt": yuan(line["fulamt_ownpay_amt"]),
            "overlmt_amt": yuan(line["overlmt_amt"]), "preselfpay_amt": yuan(line["preselfpay_amt"]),
            "inscp_scp_amt": yuan(line["inscp_scp_amt"]), "chrgitm_lv": line.get("chrgitm_lv"),
            "med_chrgitm_type": line.get("list_type"), "bas_medn_flag": None, "hi_nego_drug_flag": None,
            "lmt_used_flag": "1" if line.get("memo") else "0", "drt_reim_flag": "0", "memo": line.get("memo")}


def _settled(s: Settlement, person: Mapping, committed: bool = True) -> dict:
    return {"setlinfo": _setlinfo(s, person, committed), "setldetail": _setldetail(s)}


# --- 9001 sign-in, 1101 person -----------------------------------------------------------------------------

class SignIn(Node):
    opter_no: Code
    mac: OptionalText = None
    ip: OptionalText = None


def sign_in(call: Call, body: dict) -> None:
    req = _parse(SignIn, body.get("signIn"), "input.signIn")
    at = now()
    sign_no = f"{at:%Y%m%d%H%M%S}{secrets.randbelow(10**16):016d}"
    with transaction(call.engine) as conn:
        conn.execute(insert(sign_ins).values(sign_no=sign_no, fixmedins_code=call.fixmedins_code,
                                             opter_no=req.opter_no, signed_at=at))
        call.commit(conn, {"signinoutb": {"sign_no": sign_no, "sign_time": at.isoformat(sep=" ")}})


class PersonQuery(Credential):
    begntime: OptionalText = None
    psn_cert_type: OptionalText = None
    certno: OptionalText = None
    psn_name: OptionalText = None


def person_info(call: Call, body: dict) -> dict:
    req = _parse(PersonQuery, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        p = _holder(call, conn, req)
        balance = conn.execute(select(accounts.c.balance).where(accounts.c.psn_no == p["psn_no"])).scalar()
    today = date.today()
    return {
        "baseinfo": {"psn_no": p["psn_no"], "psn_cert_type": "01", "certno": p["certno"], "psn_name": p["psn_name"],
                     "gend": p["gend"], "naty": None, "brdy": p["brdy"].isoformat(), "age": age_on(p["brdy"], today)},
        "insuinfo": [{"balc": yuan(balance or 0), "insutype": p["insutype"], "psn_type": p["psn_type"],
                      "psn_insu_stas": p["psn_insu_stas"], "psn_insu_date": p["psn_insu_date"].isoformat(),
                      "paus_insu_date": p["stas_date"].isoformat() if p["stas_date"] else None,
                      "cvlserv_flag": "0", "insuplc_admdvs": p["insuplc_admdvs"], "emp_name": p["emp_name"]}],
        "idetinfo": [],
    }


# --- 2201-2205 the visit -----------------------------------------------------------------------------------

class Registration(Credential):
    psn_no: Code
    insutype: Code
    begntime: Time
    ipt_otp_no: Code
    atddr_no: OptionalText = None
    dr_name: OptionalText = None
    dept_code: OptionalText = None
    dept_name: OptionalText = None
    caty: OptionalText = None


def register(call: Call, body: dict) -> None:
    req = _parse(Registration, body.get("data"), "input.data")
    with transaction(call.engine) as conn:
        person = _patient(call, conn, req.psn_no, req)
        doctor = {k: getattr(req, k) for k in ("atddr_no", "dr_name", "dept_code", "dept_name", "caty")}
        mdtrt_id = visits.register(conn, call.fixmedins_code, person, req.ipt_otp_no, req.insutype, req.begntime,
                                   req.mdtrt_cert_type, doctor)
        call.commit(conn, {"data": {"psn_no": req.psn_no, "mdtrt_id": mdtrt_id, "ipt_otp_no": req.ipt_otp_no}})


class VisitRef(Node):
    psn_no: Code
    mdtrt_id: Code


class Cancellation(VisitRef):
    ipt_otp_no: OptionalText = None


def _visit_of(call: Call, conn: Connection, mdtrt_id: str, psn_no: str, lock: bool = False) -> Mapping:
    visit = visits.open_visit(conn, call.fixmedins_code, mdtrt_id, psn_no, lock)
    _insured_here(call, _person(conn, psn_no))
    return visit


def cancel_registration(call: Call, body: dict) -> None:
    req = _parse(Cancellation, body.get("data"), "input.data")
    with transaction(call.engine) as conn:
        visit = _visit_of(call, conn, req.mdtrt_id, req.psn_no, lock=True)
        if req.ipt_otp_no and req.ipt_otp_no != visit["ipt_otp_no"]:
            raise InputError(f"ipt_otp_no: {req.ipt_otp_no!r} is not the visit's ({visit['ipt_otp_no']})",
                             f"ipt_otp_no {req.ipt_otp_no!r} 与就诊 {req.mdtrt_id} 的门诊号 {visit['ipt_otp_no']} 不符")
        visits.cancel(conn, visit)
        call.commit(conn, {})


def _med_type(value: str) -> str:
    if value not in MED_TYPES:
        raise InputError(f"med_type: {value!r} is not settled here (11 or 41)",
                         f"med_type {value!r} 不受理：普通门诊统筹只办理 11 普通门诊、41 定点药店购药")
    return value


class VisitInfo(VisitRef):
    med_type: Code
    begntime: OptionalText = None
    main_cond_dscr: OptionalText = None
    dise_codg: OptionalText = None
    dise_name: OptionalText = None


class Diagnosis(Node):
    diag_type: Code
    diag_srt_no: Code
    diag_code: Code
    diag_name: Annotated[str, Field(min_length=1, max_length=300)]
    diag_dept: OptionalText = None
    dise_dor_no: OptionalText = None
    dise_dor_name: OptionalText = None
    diag_time: OptionalText = None


class VisitUpload(Node):
    mdtrtinfo: dict
    diseinfo: list[Diagnosis] = Field(default_factory=list)


def visit_info(call: Call, body: dict) -> None:
    diseinfo = _parse(VisitUpload, body, "input").diseinfo
    req = _parse(VisitInfo, body.get("mdtrtinfo"), "input.mdtrtinfo")
    _med_type(req.med_type)
    if req.med_type != "11":
        raise InputError(f"med_type: {req.med_type} is for pharmacies", "med_type 41 仅用于定点药店购药，门诊请用 11")
    with transaction(call.engine) as conn:
        visit = _visit_of(call, conn, req.mdtrt_id, req.psn_no, lock=True)
        visits.record_info(conn, visit, req.med_type, req.dise_codg, req.dise_name,
                           [d.model_dump() for d in diseinfo])
        call.commit(conn, {})


class FeeDetail(Node):
    feedetl_sn: Code
    med_list_codg: Code
    det_item_fee_sumamt: Amount
    cnt: Count
    pric: Price
    medins_list_codg: OptionalText = None
    fee_ocur_time: Annotated[Time | None, Field(default=None)] = None
    rxno: OptionalText = None
    rx_circ_flag: OptionalText = None


class UploadedFee(FeeDetail):
    mdtrt_id: Code
    psn_no: Code
    chrg_bchno: Code


class FeeUpload(Node):
    feedetail: Annotated[list[UploadedFee], Field(min_length=1, max_length=2000)]


def upload_fees(call: Call, body: dict) -> None:
    lines = _parse(FeeUpload, body, "input").feedetail
    first = lines[0]
    for i, line in enumerate(lines):
        if (line.mdtrt_id, line.psn_no) != (first.mdtrt_id, first.psn_no):
            raise InputError(f"feedetail[{i}].mdtrt_id: one upload is one visit",
                             f"input.feedetail[{i}]: 一次上传只能是同一次就诊（mdtrt_id {first.mdtrt_id}）的费用明细")
    with transaction(call.engine) as conn:
        visit = _visit_of(call, conn, first.mdtrt_id, first.psn_no, lock=True)
        result = visits.upload_fees(conn, visit, [line.model_dump() for line in lines])
        call.commit(conn, {"result": [_line_split(r) for r in result]})


class FeeWithdrawal(VisitRef):
    chrg_bchno: Code


def withdraw_fees(call: Call, body: dict) -> None:
    req = _parse(FeeWithdrawal, body.get("data"), "input.data")
    with transaction(call.engine) as conn:
        visit = _visit_of(call, conn, req.mdtrt_id, req.psn_no, lock=True)
        visits.delete_fees(conn, visit, req.chrg_bchno)
        call.commit(conn, {})


# --- 2206/2207/2208 outpatient settlement ------------------------------------------------------------------

def _acct_flag(value: object) -> object:
    if value in (1, 0):
        return str(value)
    return value


Flag01 = Annotated[Literal["0", "1"], BeforeValidator(_acct_flag)]


class OutpatientSettle(Credential, VisitRef):
    med_type: Code
    medfee_sumamt: Amount
    psn_setlway: Code
    chrg_bchno: Code
    insutype: Code
    acct_used_flag: Flag01
    invono: OptionalText = None
    fulamt_ownpay_amt: Amount | None = None
    overlmt_selfpay: Amount | None = None
    preselfpay_amt: Amount | None = None
    inscp_scp_amt: Amount | None = None


def _sum_check(lines_total: int, medfee_sumamt: int) -> None:
    if lines_total != medfee_sumamt:
        raise InputError(f"medfee_sumamt: {medfee_sumamt} fen is not the fee lines' total {lines_total} fen",
                         f"medfee_sumamt {medfee_sumamt / 100:.2f} 与费用明细合计 {lines_total / 100:.2f} 不符")


def _outpatient(call: Call, conn: Connection, req: OutpatientSettle) -> tuple[SettleRequest, Mapping, list]:
    _med_type(req.med_type)
    person = _patient(call, conn, req.psn_no, req)
    visit = visits.open_visit(conn, call.fixmedins_code, req.mdtrt_id, req.psn_no)
    settling.not_settled(conn, req.mdtrt_id)
    if req.insutype != person["insutype"]:
        raise InputError(f"insutype: {req.insutype!r} is not the person's ({person['insutype']})",
                         f"insutype {req.insutype!r} 与参保人险种 {person['insutype']} 不符")
    lines = visits.batch_lines(conn, visit, req.chrg_bchno)
    _sum_check(sum(line["det_item_fee_sumamt"] for line in lines), req.medfee_sumamt)
    settle = SettleRequest.model_construct(
        psn_no=req.psn_no, fixmedins_code=call.fixmedins_code, date=visit["begntime"].date(), med_type=req.med_type,
        acct_used_flag=req.acct_used_flag == "1", covered=None, lines=[visits.fee_line(line) for line in lines],
        prescriber=None, key=call.key, mdtrt_id=req.mdtrt_id, mdtrt_cert_type=req.mdtrt_cert_type,
        medins_setl_id=call.envelope.msgid)
    return settle, person, lines


def pre_settle_outpatient(call: Call, body: dict) -> dict:
    req = _parse(OutpatientSettle, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        settle, person, _lines = _outpatient(call, conn, req)
    return _settled(settling.pre_settle(call.engine, call.book, settle), person, committed=False)


_ECHOED = ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")


def _echo_check(req: BaseModel, row: Mapping) -> None:
    """2207 echoes the split 2206 returned; a different split means the bill changed in between."""
    for name in _ECHOED:
        sent = getattr(req, name)
        if sent is not None and sent != row[name]:
            raise InputError(f"{name}: {sent} fen is not this settlement's {row[name]} fen",
                             f"{name} {sent / 100:.2f} 与本次结算计算的 {row[name] / 100:.2f} 不符（请重新预结算）")


def settle_outpatient(call: Call, body: dict) -> None:
    req = _parse(OutpatientSettle, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        settle, person, lines = _outpatient(call, conn, req)

    def also(conn: Connection, row: dict, _lines: list[dict]) -> None:
        _echo_check(req, row)
        visits.mark_settled(conn, [line["id"] for line in lines], row["setl_id"])
        call.commit(conn, _settled(Settlement(row, []), person))

    settling.settle(call.engine, call.book, settle, also)


class SettlementRef(Node):
    psn_no: Code
    setl_id: Code
    mdtrt_id: Code


def _own_settlement(call: Call, conn: Connection, req: SettlementRef) -> Mapping:
    row = conn.execute(select(settlements).where(settlements.c.setl_id == req.setl_id)).mappings().first()
    if row is None or row["fixmedins_code"] != call.fixmedins_code:
        raise InputError(f"setl_id: {req.setl_id!r} is not a settlement of {call.fixmedins_code}",
                         f"setl_id {req.setl_id!r} 不存在：本机构没有这笔结算")
    if row["mdtrt_id"] != req.mdtrt_id:
        raise InputError(f"mdtrt_id: {req.mdtrt_id!r} is not the visit of {req.setl_id}",
                         f"mdtrt_id {req.mdtrt_id!r} 与结算 {req.setl_id} 的就诊ID {row['mdtrt_id']} 不符")
    if row["psn_no"] != req.psn_no:
        raise InputError(f"psn_no: {req.psn_no!r} is not the patient of {req.setl_id}",
                         f"psn_no {req.psn_no!r} 与结算 {req.setl_id} 的参保人不符")
    _insured_here(call, _person(conn, req.psn_no))
    return row


def _reverse(call: Call, setl_id: str, psn_no: str) -> None:
    with call.engine.connect() as conn:
        person = _person(conn, psn_no)

    def also(conn: Connection, row: dict, _lines: list[dict]) -> None:
        visits.unmark_settled(conn, setl_id)
        call.commit(conn, _settled(Settlement(row, []), person))

    settling.reverse(call.engine, call.book, setl_id, call.fixmedins_code, call.key, also)


def reverse_settlement(call: Call, body: dict) -> None:
    req = _parse(SettlementRef, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        _own_settlement(call, conn, req)
    _reverse(call, req.setl_id, req.psn_no)


# --- 2101/2102/2103 pharmacy -------------------------------------------------------------------------------

class DrugInfo(Credential):
    psn_no: Code
    begntime: Time
    medfee_sumamt: Amount
    insutype: Code
    acct_used_flag: Flag01
    med_type: Code
    dise_codg: OptionalText = None
    dise_name: OptionalText = None
    invono: OptionalText = None
    rx_fixmedins_code: OptionalText = None
    """gongji's extension until prescriptions are recorded: the designated institution that wrote the
    prescription (外配处方) the drugs come on. Without it the pooled fund pays nothing."""


class PharmacySale(Node):
    druginfo: DrugInfo
    drugdetail: Annotated[list[FeeDetail], Field(min_length=1, max_length=2000)]


def _pharmacy(call: Call, conn: Connection, body: dict) -> tuple[SettleRequest, Mapping, list[dict]]:
    sale = _parse(PharmacySale, body, "input")
    info = sale.druginfo
    if info.med_type != "41":
        raise InputError(f"med_type: {info.med_type!r} is not 41 at a pharmacy",
                         f"med_type {info.med_type!r} 不受理：定点药店购药应为 41")
    person = _patient(call, conn, info.psn_no, info)
    seen: set[str] = set()
    for i, line in enumerate(sale.drugdetail):
        if line.feedetl_sn in seen:
            raise InputError(f"drugdetail[{i}].feedetl_sn: {line.feedetl_sn!r} appears twice",
                             f"input.drugdetail[{i}].feedetl_sn {line.feedetl_sn!r} 重复")
        seen.add(line.feedetl_sn)
        expected = visits.line_amount(line.pric, line.cnt)
        if line.det_item_fee_sumamt != expected:
            raise InputError(f"drugdetail[{i}].det_item_fee_sumamt: not pric x cnt ({expected} fen)",
                             f"input.drugdetail[{i}].det_item_fee_sumamt {line.det_item_fee_sumamt / 100:.2f} "
                             f"与 pric × cnt = {expected / 100:.2f} 不符")
    _sum_check(sum(line.det_item_fee_sumamt for line in sale.drugdetail), info.medfee_sumamt)
    prescriber = info.rx_fixmedins_code
    if prescriber is not None and not _is_hospital_code(prescriber):
        raise InputError(f"rx_fixmedins_code: {prescriber!r} is not a medical institution code",
                         f"rx_fixmedins_code {prescriber!r} 不是医疗机构编号（H 加 11 位数字）")
    settle = SettleRequest.model_construct(
        psn_no=info.psn_no, fixmedins_code=call.fixmedins_code, date=info.begntime.date(), med_type="41",
        acct_used_flag=info.acct_used_flag == "1", covered=None,
        lines=[visits.fee_line(line.model_dump()) for line in sale.drugdetail], prescriber=prescriber,
        key=call.key, mdtrt_id=None, mdtrt_cert_type=info.mdtrt_cert_type, medins_setl_id=call.envelope.msgid)
    return settle, person, [line.model_dump() for line in sale.drugdetail]


def _is_hospital_code(code: str) -> bool:
    return len(code) == 12 and code[0] == "H" and code[1:].isdigit()


def _with_cuts(s: Settlement, person: Mapping, committed: bool, sns: list[str]) -> dict:
    out = _settled(s, person, committed)
    out["detlcutinfo"] = [_line_split(line | {"feedetl_sn": sn}) for line, sn in zip(s.lines, sns, strict=True)]
    return out


def pre_settle_pharmacy(call: Call, body: dict) -> dict:
    with call.engine.connect() as conn:
        settle, person, lines = _pharmacy(call, conn, body)
    out = _with_cuts(settling.pre_settle(call.engine, call.book, settle), person, False,
                     [line["feedetl_sn"] for line in lines])
    out["setlinfo"].pop("setl_id")
    return out


def settle_pharmacy(call: Call, body: dict) -> None:
    with call.engine.connect() as conn:
        settle, person, lines = _pharmacy(call, conn, body)

    def also(conn: Connection, row: dict, split: list[dict]) -> None:
        call.commit(conn, _with_cuts(Settlement(row, split), person, True, [line["feedetl_sn"] for line in lines]))

    settling.settle(call.engine, call.book, settle, also)


def reverse_pharmacy(call: Call, body: dict) -> None:
    reverse_settlement(call, body)


# --- 2601 冲正, 3201 对总账, 5203, 5206 --------------------------------------------------------------------------

class Correction(Node):
    psn_no: Code
    omsgid: Annotated[str, Field(min_length=1, max_length=40)]
    oinfno: Code


REVERSIBLE = {"2207", "2102"}


def correct(call: Call, body: dict) -> None:
    req = _parse(Correction, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        original = stored_answer(conn, call.fixmedins_code, req.omsgid)
    if original is None:
        raise InputError(f"omsgid: {req.omsgid!r} is no message of {call.fixmedins_code} that changed anything",
                         f"omsgid {req.omsgid!r} 原交易不存在（本机构没有成功办理的该报文），无需冲正")
    infno, answer = original
    if infno != req.oinfno:
        raise InputError(f"oinfno: {req.oinfno} is not the original's infno ({infno})",
                         f"oinfno {req.oinfno} 与原交易 {req.omsgid} 的交易编号 {infno} 不符")
    if infno not in REVERSIBLE:
        raise InputError(f"oinfno: {infno} cannot be corrected here (2207 or 2102)",
                         f"oinfno {infno} 不支持冲正：本系统可冲正 2207 门诊结算、2102 药店结算")
    setl = answer["output"]["setlinfo"]
    if setl["psn_no"] != req.psn_no:
        raise InputError(f"psn_no: {req.psn_no!r} is not the patient of the original",
                         f"psn_no {req.psn_no!r} 与原交易的参保人不符")
    _reverse(call, setl["setl_id"], req.psn_no)


class Reconciliation(Node):
    insutype: Code
    clr_type: Code
    setl_optins: Code
    stmt_begndate: date
    stmt_enddate: date
    medfee_sumamt: Amount
    fund_pay_sumamt: Amount
    acct_pay: Amount
    fixmedins_setl_cnt: Annotated[int, Field(ge=0)]
    refd_setl_flag: Literal["0", "1"] = "0"


def reconcile(call: Call, body: dict) -> dict:
    req = _parse(Reconciliation, body.get("data"), "input.data")
    if req.stmt_enddate < req.stmt_begndate:
        raise InputError("stmt_enddate: before stmt_begndate", f"stmt_enddate {req.stmt_enddate} 早于 "
                         f"stmt_begndate {req.stmt_begndate}")
    settings_by_clr = {code: setting for setting, code in CLR_TYPE.items()}
    if req.clr_type not in settings_by_clr:
        raise InputError(f"clr_type: {req.clr_type!r} is not 11 or 41",
                         f"clr_type {req.clr_type!r} 不受理：应为 11 门诊或 41 药店购药")
    s = settlements.c
    where = [s.fixmedins_code == call.fixmedins_code, s.insuplc_admdvs == req.setl_optins,
             s.setting == settings_by_clr[req.clr_type], s.setl_date >= req.stmt_begndate,
             s.setl_date <= req.stmt_enddate]
    if req.refd_setl_flag == "0":
        where += [s.reverses.is_(None), s.reversed_by.is_(None)]
    with call.engine.connect() as conn:
        ours = conn.execute(select(func.coalesce(func.sum(s.medfee_sumamt), 0),
                                   func.coalesce(func.sum(s.hifp_pay + s.inpatient_pay), 0),
                                   func.coalesce(func.sum(s.acct_pay), 0), func.count()).where(*where)).one()
    sent = (req.medfee_sumamt, req.fund_pay_sumamt, req.acct_pay, req.fixmedins_setl_cnt)
    names = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")
    differ = [f"{n} 机构 {_show(n, a)}，中心 {_show(n, b)}" for n, a, b in zip(names, sent, ours, strict=True)
              if int(a) != int(b)]
    return {"stmtinfo": {"setl_optins": req.setl_optins, "stmt_rslt": "1" if differ else "0",
                         "stmt_rslt_dscr": "；".join(differ) if differ else "对账一致"}}


def _show(name: str, value: int) -> str:
    return str(value) if name == "fixmedins_setl_cnt" else f"{int(value) / 100:.2f}"


def settlement_info(call: Call, body: dict) -> dict:
    req = _parse(SettlementRef, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        row = _own_settlement(call, conn, req)
        person = _person(conn, req.psn_no)
    out = _settled(Settlement(row, []), person)
    out["setlinfo"] |= {"dedc_hosp_lv": row["level"], "lmtpric_hosp_lv": row["level"]}
    return out


class CumulativeQuery(Node):
    psn_no: Code
    cum_ym: Annotated[str | None, Field(default=None, pattern=r"^\d{6}$")] = None


CUM_TYPES = (("deductible", "C001", "普通门诊起付标准累计"), ("pool", "C002", "普通门诊统筹基金支付累计"),
             ("covered", "C003", "普通门诊政策范围内费用累计"), ("inpatient", "C004", "门诊超限额转住院统筹支付累计"))
"""The year's accumulators (累计信息) per benefit, under gongji's cum_type_code values."""


def cumulative(call: Call, body: dict) -> dict:
    req = _parse(CumulativeQuery, body.get("data"), "input.data")
    year = int(req.cum_ym[:4]) if req.cum_ym else date.today().year
    with call.engine.connect() as conn:
        person = _person(conn, req.psn_no)
        _insured_here(call, person)
        found = conn.execute(select(accumulators).where(accumulators.c.psn_no == req.psn_no,
                                                        accumulators.c.year == year)).mappings().first()
    return {"cuminfo": [{"insutype": person["insutype"], "year": year, "cum_type_code": code,
                         "cum_type_name": name, "cum": yuan(found[column] if found else 0)}
                        for column, code, name in CUM_TYPES]}


Handler = Callable[[Call, dict], dict | None]
HANDLERS: dict[str, Handler] = {
    "9001": sign_in, "1101": person_info, "2201": register, "2202": cancel_registration, "2203": visit_info,
    "2204": upload_fees, "2205": withdraw_fees, "2206": pre_settle_outpatient, "2207": settle_outpatient,
    "2208": reverse_settlement, "2101": pre_settle_pharmacy, "2102": settle_pharmacy, "2103": reverse_pharmacy,
    "2601": correct, "3201": reconcile, "5203": settlement_info, "5206": cumulative,
}
"""Handlers returning None wrote something and answered through Call.commit."""
