"""A member's records that change what the pooled fund pays: chronic and special disease qualifications
(门诊慢特病备案), cross-region registrations (异地就医备案) and inpatient stays (住院)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import Field
from sqlalchemy import Connection

from gongji.api.admin.auth import Operator, Reader
from gongji.api.admin.common import Body, Book, Db, Out, Timestamp, not_found, problems, refused
from gongji.services import audit_log, benefit_views, lookup, qualifications, registrations, stays
from gongji.services.records import Admdvs
from gongji.store.db import transaction

router = APIRouter()
RegistrationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _person(conn: Connection, psn_no: str) -> None:
    if lookup.person_in(conn, psn_no) is None:
        raise not_found(f"psn_no: {psn_no!r} is not a registered person")


# --- chronic and special disease qualifications -------------------------------------------------------------

class QualificationRequest(Body):
    opsp_dise_code: str = Field(min_length=1, max_length=30, examples=["M03900"])
    """the disease, on the chronic and special disease list of the member's insured region."""
    opsp_dise_name: str | None = Field(default=None, max_length=100)
    """default: the list's name."""
    ide_fixmedins_no: str | None = Field(default=None, max_length=12)
    """the designated institution that diagnosed it (鉴定定点医药机构)."""
    begndate: date
    enddate: date | None = None
    """open-ended when absent."""


class Qualification(Out):
    trt_dcla_detl_sn: str
    """the qualification's number (待遇申报明细流水号)."""
    psn_no: str
    opsp_dise_code: str
    opsp_dise_name: str
    ide_fixmedins_no: str | None
    begndate: date
    enddate: date | None
    recorded_at: Timestamp
    cancelled_at: Timestamp | None
    memo: str | None


class CancelRequest(Body):
    memo: str | None = Field(default=None, max_length=200)
    """why it no longer holds."""


@router.get("/persons/{psn_no}/qualifications", response_model=list[Qualification], responses=problems(404),
            tags=["qualifications"])
def list_qualifications(psn_no: str, _user: Reader, engine: Db) -> list[Qualification]:
    """Every qualification of the member, cancelled ones included, earliest first."""
    with engine.connect() as conn:
        _person(conn, psn_no)
        return [Qualification(**q) for q in qualifications.of_person(conn, psn_no, cancelled=True)]


@router.post("/persons/{psn_no}/qualifications", status_code=201, response_model=Qualification,
             responses=problems(400, 404), tags=["qualifications"])
def create_qualification(psn_no: str, body: QualificationRequest, user: Operator, engine: Db,
                         book: Book) -> Qualification:
    """Qualify the member for a disease of the insured region's list from `begndate`; an overlapping
    qualification for the same disease is refused."""
    with refused():
        record = qualifications.parse_qualification(body.model_dump() | {"psn_no": psn_no})
        with transaction(engine) as conn:
            _person(conn, psn_no)
            row = qualifications.record(conn, book, record)
            audit_log.record(conn, user.name, "qualification.create", psn_no, None, row)
    return Qualification(**row)


@router.post("/persons/{psn_no}/qualifications/{trt_dcla_detl_sn}/cancel", response_model=Qualification,
             responses=problems(400, 404), tags=["qualifications"])
def cancel_qualification(psn_no: str, trt_dcla_detl_sn: str, body: CancelRequest, user: Operator,
                         engine: Db) -> Qualification:
    """The qualification no longer holds (2504); settlements made under it stand. One cancelled before is
    refused."""
    with refused(), transaction(engine) as conn:
        _person(conn, psn_no)
        if benefit_views.qualification(conn, psn_no, trt_dcla_detl_sn) is None:
            raise not_found(f"trt_dcla_detl_sn: {trt_dcla_detl_sn!r} is not a qualification of {psn_no}")
        before = dict(qualifications.cancel(conn, psn_no, trt_dcla_detl_sn, body.memo))
        after = benefit_views.qualification(conn, psn_no, trt_dcla_detl_sn)
        audit_log.record(conn, user.name, "qualification.cancel", psn_no, before, after)
    return Qualification(**after)


# --- cross-region registrations -----------------------------------------------------------------------------

class RegistrationRequest(Body):
    mdtrtarea_admvs: Admdvs
    """where the member will be treated: a city (or county) code, or a province's (ends in 0000) for all of it."""
    reason: Literal["resident", "referral", "temporary"]
    """resident 异地长期居住, referral 转诊转院, temporary 临时外出就医: the policy's ratio cut depends on it."""
    begndate: date
    enddate: date | None = None


class Registration(Out):
    id: int
    psn_no: str
    mdtrtarea_admvs: str
    reason: str
    begndate: date
    enddate: date | None
    recorded_at: Timestamp
    revoked_at: Timestamp | None


@router.get("/persons/{psn_no}/registrations", response_model=list[Registration], responses=problems(404),
            tags=["registrations"])
def list_registrations(psn_no: str, _user: Reader, engine: Db) -> list[Registration]:
    """Every registration of the member, revoked ones included, earliest first."""
    with engine.connect() as conn:
        _person(conn, psn_no)
        return [Registration(**r) for r in registrations.of_person(conn, psn_no)]


@router.post("/persons/{psn_no}/registrations", status_code=201, response_model=Registration,
             responses=problems(400, 404), tags=["registrations"])
def create_registration(psn_no: str, body: RegistrationRequest, user: Operator, engine: Db) -> Registration:
    """Register the member for care in another region from `begndate`."""
    with refused():
        record = registrations.parse_registration(body.model_dump() | {"psn_no": psn_no})
        with transaction(engine) as conn:
            _person(conn, psn_no)
            row = registrations.record(conn, record)
            audit_log.record(conn, user.name, "registration.create", psn_no, None, row)
    return Registration(**row)


@router.post("/persons/{psn_no}/registrations/{registration_id}/revoke", response_model=Registration,
             responses=problems(404), tags=["registrations"])
def revoke_registration(psn_no: str, registration_id: RegistrationId, user: Operator, engine: Db) -> Registration:
    """End a registration; settlements made under it stand. One revoked before is refused."""
    with refused(), transaction(engine) as conn:
        _person(conn, psn_no)
        found = benefit_views.registration(conn, registration_id)
        if found is None or found["psn_no"] != psn_no:
            raise not_found(f"registration_id: {registration_id} is not a registration of {psn_no}")
        before = dict(registrations.revoke(conn, registration_id))
        after = benefit_views.registration(conn, registration_id)
        audit_log.record(conn, user.name, "registration.revoke", psn_no, before, after)
    return Registration(**after)


# --- inpatient stays ----------------------------------------------------------------------------------------

class AdmitRequest(Body):
    fixmedins_code: str = Field(pattern=r"^H\d{11}$", examples=["H32100000001"])
    admitted_on: date


class DischargeRequest(Body):
    discharged_on: date


class Stay(Out):
    """While a stay is open (on the days from admitted_on to discharged_on), outpatient costs are not pooled."""

    id: int
    psn_no: str
    fixmedins_code: str
    admitted_on: date
    discharged_on: date | None


@router.get("/persons/{psn_no}/stays", response_model=list[Stay], responses=problems(404), tags=["stays"])
def list_stays(psn_no: str, _user: Reader, engine: Db) -> list[Stay]:
    """Every stay of the member, earliest first."""
    with engine.connect() as conn:
        _person(conn, psn_no)
        return [Stay(**s) for s in stays.of_person(conn, psn_no)]


@router.post("/persons/{psn_no}/stays", status_code=201, response_model=Stay, responses=problems(400, 404),
             tags=["stays"])
def admit(psn_no: str, body: AdmitRequest, user: Operator, engine: Db) -> Stay:
    """Admit the member (住院登记); one with an open stay is refused."""
    with refused(), transaction(engine) as conn:
        _person(conn, psn_no)
        row = stays.admit_in(conn, psn_no, body.fixmedins_code, body.admitted_on, field="fixmedins_code")
        audit_log.record(conn, user.name, "stay.admit", psn_no, None, row)
    return Stay(**row)


@router.post("/persons/{psn_no}/stays/discharge", response_model=Stay, responses=problems(400, 404), tags=["stays"])
def discharge(psn_no: str, body: DischargeRequest, user: Operator, engine: Db) -> Stay:
    """Discharge the member from the open stay (出院)."""
    with refused(), transaction(engine) as conn:
        _person(conn, psn_no)
        before, after = stays.discharge_in(conn, psn_no, body.discharged_on, field="discharged_on")
        audit_log.record(conn, user.name, "stay.discharge", psn_no, before, after)
    return Stay(**after)
