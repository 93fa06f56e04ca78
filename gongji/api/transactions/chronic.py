"""Chronic and special disease qualifications (门诊慢特病备案): 2503 records one, 2504 cancels it, 5301 lists a
member's. A member holding one settles that disease's costs as med_type 14 (2203 dise_codg, then 2206/2207)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BeforeValidator
from sqlalchemy import Connection, select

from gongji.api.envelope import Code, Day, Node, code, optional
from gongji.api.transactions.call import Call, insured_here, parse, person_row, policy_on
from gongji.errors import InputError
from gongji.services import qualifications
from gongji.services.qualifications import QualificationRecord
from gongji.services.records import HOSPITAL
from gongji.store.db import transaction
from gongji.store.tables import institutions

OptionalDay = Annotated[Day | None, BeforeValidator(lambda v: None if v == "" else v)]


class QualificationData(Node):
    """2503 `data` (人员慢特病备案)."""

    psn_no: Code
    insutype: Code
    opsp_dise_code: Code
    """the disease's code on the insured region's chronic and special disease list (门慢门特病种目录代码)."""
    opsp_dise_name: code(100)
    tel: optional(50) = None
    addr: optional(200) = None
    insu_optins: code(6)
    """参保机构医保区划: where the member is insured."""
    ide_fixmedins_no: code(12)
    """the designated medical institution that diagnosed the disease (鉴定定点医药机构)."""
    ide_fixmedins_name: code(200)
    hosp_ide_date: Day
    diag_dr_codg: Code
    diag_dr_name: code(50)
    begndate: Day
    enddate: OptionalDay = None


def record_qualification(call: Call, body: dict) -> None:
    req = parse(QualificationData, body.get("data"), "input.data")
    if req.enddate is not None and req.enddate < req.begndate:
        raise InputError(f"data.enddate: {req.enddate} is before begndate {req.begndate}",
                         f"input.data.enddate {req.enddate} 早于 begndate {req.begndate}")
    with transaction(call.engine) as conn:
        person = _member(call, conn, req.psn_no)
        if req.insutype != person["insutype"]:
            raise InputError(f"data.insutype: {req.insutype!r} is not the person's ({person['insutype']})",
                             f"input.data.insutype {req.insutype!r} 与参保人险种 {person['insutype']} 不符")
        if req.insu_optins != person["insuplc_admdvs"]:
            raise InputError(f"data.insu_optins: {req.insu_optins} is not where {req.psn_no} is insured",
                             f"input.data.insu_optins {req.insu_optins} 与参保人 {req.psn_no} 的参保地 "
                             f"{person['insuplc_admdvs']} 不符")
        kind = conn.execute(select(institutions.c.fixmedins_type)
                            .where(institutions.c.fixmedins_code == req.ide_fixmedins_no)).scalar()
        if kind != HOSPITAL:
            raise InputError(f"data.ide_fixmedins_no: {req.ide_fixmedins_no!r} is not a registered medical institution",
                             f"input.data.ide_fixmedins_no {req.ide_fixmedins_no!r} 不是登记的定点医疗机构")
        policy_on(call, person, req.begndate, "input.data.begndate")
        row = qualifications.record(conn, call.book, QualificationRecord.model_construct(
            psn_no=req.psn_no, opsp_dise_code=req.opsp_dise_code, opsp_dise_name=req.opsp_dise_name,
            ide_fixmedins_no=req.ide_fixmedins_no, begndate=req.begndate, enddate=req.enddate))
        call.commit(conn, {"result": {"trt_dcla_detl_sn": row["trt_dcla_detl_sn"]}})


def _member(call: Call, conn: Connection, psn_no: str) -> Mapping:
    person = person_row(conn, psn_no)
    insured_here(call, person)
    return person


class QualificationCancel(Node):
    """2504 `data` (人员慢特病备案撤销)."""

    psn_no: Code
    trt_dcla_detl_sn: Code
    memo: optional(200) = None


def cancel_qualification(call: Call, body: dict) -> None:
    req = parse(QualificationCancel, body.get("data"), "input.data")
    with transaction(call.engine) as conn:
        _member(call, conn, req.psn_no)
        qualifications.cancel(conn, req.psn_no, req.trt_dcla_detl_sn, req.memo)
        call.commit(conn, {})


class QualificationQuery(Node):
    """5301 `data` (人员慢特病备案查询)."""

    psn_no: Code


def list_qualifications(call: Call, body: dict) -> dict:
    req = parse(QualificationQuery, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        _member(call, conn, req.psn_no)
        found = qualifications.of_person(conn, req.psn_no)
    return {"feedetail": [{"psn_no": q["psn_no"], "opsp_dise_code": q["opsp_dise_code"],
                           "opsp_dise_name": q["opsp_dise_name"], "begndate": q["begndate"].isoformat(),
                           "enddate": q["enddate"].isoformat() if q["enddate"] else None,
                           "trt_dcla_detl_sn": q["trt_dcla_detl_sn"], "ide_fixmedins_no": q["ide_fixmedins_no"]}
                          for q in found]}
