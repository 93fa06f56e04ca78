"""9001 sign-in, 1101 person, and the hospital visit before settlement: 2201/2202 registration, 2203 visit
information, 2204/2205 fee details."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field
from sqlalchemy import Connection, insert, select

from gongji.api.envelope import (
    Amount,
    Code,
    Count,
    Node,
    OptionalCode,
    OptionalText,
    Price,
    Time,
    optional,
    yuan,
)
from gongji.api.transactions.call import Call, Credential, holder, insured_here, parse, patient, person_row
from gongji.api.transactions.outputs import line_split
from gongji.engine.dates import age_on
from gongji.errors import InputError
from gongji.services import qualifications, visits
from gongji.services.settlement import CHRONIC
from gongji.store.db import transaction
from gongji.store.ledger import now
from gongji.store.tables import accounts, sign_ins

# --- 9001 sign-in, 1101 person -----------------------------------------------------------------------------

class SignIn(Node):
    opter_no: Code
    mac: OptionalText = None
    ip: OptionalText = None


def sign_in(call: Call, body: dict) -> None:
    req = parse(SignIn, body.get("signIn"), "input.signIn")
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
    req = parse(PersonQuery, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        p = holder(call, conn, req)
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
    req = parse(Registration, body.get("data"), "input.data")
    with transaction(call.engine) as conn:
        person = patient(call, conn, req.psn_no, req)
        doctor = {k: getattr(req, k) for k in ("atddr_no", "dr_name", "dept_code", "dept_name", "caty")}
        mdtrt_id = visits.register(conn, call.fixmedins_code, person, req.ipt_otp_no, req.insutype, req.begntime,
                                   req.mdtrt_cert_type, doctor)
        call.commit(conn, {"data": {"psn_no": req.psn_no, "mdtrt_id": mdtrt_id, "ipt_otp_no": req.ipt_otp_no}})


class VisitRef(Node):
    psn_no: Code
    mdtrt_id: Code


class Cancellation(VisitRef):
    ipt_otp_no: OptionalText = None


def visit_of(call: Call, conn: Connection, mdtrt_id: str, psn_no: str, lock: bool = False
             ) -> tuple[Mapping, Mapping]:
    """The institution's open visit of psn_no, and the person, insured where the envelope says."""
    visit = visits.open_visit(conn, call.fixmedins_code, mdtrt_id, psn_no, lock)
    person = person_row(conn, psn_no)
    insured_here(call, person)
    return visit, person


def cancel_registration(call: Call, body: dict) -> None:
    req = parse(Cancellation, body.get("data"), "input.data")
    with transaction(call.engine) as conn:
        visit, _person = visit_of(call, conn, req.mdtrt_id, req.psn_no, lock=True)
        if req.ipt_otp_no and req.ipt_otp_no != visit["ipt_otp_no"]:
            raise InputError(f"ipt_otp_no: {req.ipt_otp_no!r} is not the visit's ({visit['ipt_otp_no']})",
                             f"ipt_otp_no {req.ipt_otp_no!r} 与就诊 {req.mdtrt_id} 的门诊号 {visit['ipt_otp_no']} 不符")
        visits.cancel(conn, visit)
        call.commit(conn, {})


HOSPITAL_MED_TYPES = {"11": "普通门诊", "14": "门诊慢特病"}
"""med_type a hospital settles: 11 普通门诊 and 14 门诊慢特病 (41 定点药店购药 is a pharmacy's)."""


def checked_med_type(value: str) -> str:
    """A hospital visit's med_type: 11 or 14."""
    if value == "41":
        raise InputError(f"med_type: {value} is for pharmacies", "med_type 41 仅用于定点药店购药，门诊请用 11 或 14")
    if value not in HOSPITAL_MED_TYPES:
        raise InputError(f"med_type: {value!r} is not settled here (11 or 14 at a hospital)",
                         f"med_type {value!r} 不受理：门诊只办理 11 普通门诊、14 门诊慢特病（定点药店购药为 41）")
    return value


def _rx_flag(value: object) -> object:
    """rx_circ_flag 外购处方标志: "1" bought on an external prescription, "0" (or empty) not."""
    if value in (None, ""):
        return None
    return str(value) if value in (0, 1) and not isinstance(value, bool) else value


RxFlag = Annotated[Literal["0", "1"] | None, BeforeValidator(_rx_flag)]


class VisitInfo(VisitRef):
    med_type: Code
    begntime: OptionalText = None
    main_cond_dscr: OptionalText = None
    dise_codg: OptionalCode = None
    """at med_type 14: the chronic or special disease (opsp_dise_code) the visit treats."""
    dise_name: optional(300) = None


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
    diseinfo = parse(VisitUpload, body, "input").diseinfo
    req = parse(VisitInfo, body.get("mdtrtinfo"), "input.mdtrtinfo")
    checked_med_type(req.med_type)
    if req.med_type == CHRONIC and not req.dise_codg:
        raise InputError("mdtrtinfo.dise_codg: med_type 14 needs the chronic or special disease",
                         "input.mdtrtinfo.dise_codg: med_type 14（门诊慢特病）须填写慢特病病种编码 dise_codg")
    with transaction(call.engine) as conn:
        visit, _person = visit_of(call, conn, req.mdtrt_id, req.psn_no, lock=True)
        if req.med_type == CHRONIC:
            qualified(conn, req.psn_no, req.dise_codg, visit["begntime"].date())
        visits.record_info(conn, visit, req.med_type, req.dise_codg, req.dise_name,
                           [d.model_dump() for d in diseinfo])
        call.commit(conn, {})


def qualified(conn: Connection, psn_no: str, dise_codg: str, on: date) -> None:
    """The member holds a qualification (门诊慢特病备案) for the disease on the day."""
    if qualifications.holding(conn, psn_no, dise_codg, on) is None:
        raise InputError(f"dise_codg: {psn_no} has no qualification for {dise_codg} on {on}",
                         f"dise_codg {dise_codg!r}：参保人 {psn_no} 在 {on} 没有该病种的门诊慢特病备案，"
                         "不能按 14 门诊慢特病就诊（请先 2503 备案）")


class FeeDetail(Node):
    feedetl_sn: Code
    med_list_codg: Code
    det_item_fee_sumamt: Amount
    cnt: Count
    pric: Price
    medins_list_codg: OptionalText = None
    fee_ocur_time: Annotated[Time | None, Field(default=None)] = None
    rxno: optional(40) = None
    """the prescription (hi_rxno from 7101) a line with rx_circ_flag 1 is bought on."""
    rx_circ_flag: RxFlag = None


class UploadedFee(FeeDetail):
    mdtrt_id: Code
    psn_no: Code
    chrg_bchno: Code
    dise_codg: OptionalCode = None
    """the chronic or special disease (opsp_dise_code) the line treats, at a med_type 14 visit."""


class FeeUpload(Node):
    feedetail: Annotated[list[UploadedFee], Field(min_length=1, max_length=2000)]


def upload_fees(call: Call, body: dict) -> None:
    lines = parse(FeeUpload, body, "input").feedetail
    first = lines[0]
    for i, line in enumerate(lines):
        if (line.mdtrt_id, line.psn_no) != (first.mdtrt_id, first.psn_no):
            raise InputError(f"feedetail[{i}].mdtrt_id: one upload is one visit",
                             f"input.feedetail[{i}]: 一次上传只能是同一次就诊（mdtrt_id {first.mdtrt_id}）的费用明细")
    with transaction(call.engine) as conn:
        visit, person = visit_of(call, conn, first.mdtrt_id, first.psn_no, lock=True)
        result = visits.upload_fees(conn, visit, person, [line.model_dump() for line in lines])
        call.commit(conn, {"result": [line_split(r) for r in result]})


class FeeWithdrawal(VisitRef):
    chrg_bchno: Code


def withdraw_fees(call: Call, body: dict) -> None:
    req = parse(FeeWithdrawal, body.get("data"), "input.data")
    with transaction(call.engine) as conn:
        visit, _person = visit_of(call, conn, req.mdtrt_id, req.psn_no, lock=True)
        visits.delete_fees(conn, visit, req.chrg_bchno)
        call.commit(conn, {})
