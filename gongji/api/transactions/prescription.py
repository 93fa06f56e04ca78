"""7101 电子处方上传: a designated medical institution uploads an electronic prescription (外配处方) a pharmacy
may then settle against (2101/2102, drugdetail rxno = the hi_rxno answered here).

7101 is Shenzhen's infno for the national e-prescription flow's upload (uploadChk); its nodes are `data` (the
prescription), `rxdrugdetail[]` (its drugs) and `mdtrtinfo` (the visit, patient and doctor). Fields gongji does
not keep (signatures, the prescription file, dosage instructions, diseinfo...) are accepted and ignored.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from gongji.api.envelope import Code, Count, Node, Time, Whole, code, optional
from gongji.api.transactions.call import Call, insured_here, parse, person_row, policy_on
from gongji.errors import InputError
from gongji.services import prescriptions, visits
from gongji.services.prescriptions import PrescribedDrug, PrescriptionRecord
from gongji.store.db import transaction


def _listed(value: object) -> object:
    """rxdrugdetail is a list; a client sending its one drug as an object is taken as a list of one."""
    return [value] if isinstance(value, dict) else value


class RxData(Node):
    """`data`: the prescription."""

    hosp_rxno: code(40)
    """the institution's own prescription number (定点医疗机构处方编号), unique per institution."""
    prsc_time: Time
    valid_days: Annotated[Whole, Field(ge=1, le=366)] | None = None
    """fewer days of validity than the policy allows, when the doctor says so."""
    rx_circ_flag: Annotated[Literal["0", "1"] | None, BeforeValidator(lambda v: None if v in (None, "") else str(v))
                            ] = None
    """外购处方标志: "1" (the default) for a prescription to be filled outside; "0" is not one to upload."""


class RxDrug(Node):
    """`rxdrugdetail[]`: one drug, its quantity (numeric 16,4) and days of supply (用药天数)."""

    med_list_codg: Code
    drug_genname: code(200)
    drug_cnt: Annotated[Count, Field(gt=0)]
    drug_cnt_unit: optional(20) = None
    medc_days: Annotated[Whole, Field(ge=1, le=3660)]
    dise_codg: optional(30) = None


class RxVisit(Node):
    """`mdtrtinfo`: the visit the prescription was written at, the patient and the doctor."""

    mdtrt_id: optional(30) = None
    psn_no: Code
    prsc_dept_name: optional(50) = None
    prsc_dr_name: code(50)
    diag_code: Code
    diag_name: code(100)
    insuplc_admdvs: optional(6) = None


class RxUpload(Node):
    data: RxData
    rxdrugdetail: Annotated[list[RxDrug], BeforeValidator(_listed), Field(min_length=1, max_length=200)]
    mdtrtinfo: RxVisit


def upload_prescription(call: Call, body: dict) -> None:
    req = parse(RxUpload, body, "input")
    if req.data.rx_circ_flag == "0":
        raise InputError("data.rx_circ_flag: 0 is a prescription not to be filled outside; nothing to upload",
                         "input.data.rx_circ_flag 0（不外购）：不外购的处方无需上传，外配处方应为 1")
    visit, day = req.mdtrtinfo, req.data.prsc_time.date()
    with transaction(call.engine) as conn:
        person = person_row(conn, visit.psn_no)
        insured_here(call, person)
        if visit.insuplc_admdvs and visit.insuplc_admdvs != person["insuplc_admdvs"]:
            raise InputError(f"mdtrtinfo.insuplc_admdvs: {visit.insuplc_admdvs} is not where {visit.psn_no} is insured",
                             f"input.mdtrtinfo.insuplc_admdvs {visit.insuplc_admdvs} 与参保人 {visit.psn_no} "
                             f"的参保地 {person['insuplc_admdvs']} 不符")
        if visit.mdtrt_id:
            visits.open_visit(conn, call.fixmedins_code, visit.mdtrt_id, visit.psn_no)
        policy_on(call, person, day, "input.data.prsc_time")
        row = prescriptions.record(conn, call.book, call.fixmedins_code, _record(req, day))
        call.commit(conn, {"hi_rxno": row["rxno"], "valid_end_date": row["valid_end"].isoformat()})


def _record(req: RxUpload, day: date) -> PrescriptionRecord:
    """The service's record of the parsed message (quantities already in 1/10000)."""
    visit = req.mdtrtinfo
    drugs = [PrescribedDrug.model_construct(med_list_codg=d.med_list_codg, drug_genname=d.drug_genname,
                                            drug_cnt=d.drug_cnt, medc_days=d.medc_days) for d in req.rxdrugdetail]
    return PrescriptionRecord.model_construct(
        hosp_rxno=req.data.hosp_rxno, psn_no=visit.psn_no, prsc_dr_name=visit.prsc_dr_name,
        prsc_dept_name=visit.prsc_dept_name, diag_code=visit.diag_code, diag_name=visit.diag_name, prsc_date=day,
        valid_days=req.data.valid_days, drugs=drugs)

