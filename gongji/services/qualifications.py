"""Chronic and special disease qualifications (门诊慢特病备案): a member qualified for a disease of the insured
region's list settles that disease's costs under its own benefit (med_type 14). 2503 records, 2504 cancels,
5301 lists."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, insert, or_, select, update

from gongji.errors import InputError, describe
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services.family import registered_person
from gongji.store.ledger import now
from gongji.store.tables import qualifications


class QualificationRecord(BaseModel):
    """A qualification as 2503 sends it."""

    model_config = ConfigDict(extra="ignore")
    psn_no: str = Field(min_length=1, max_length=30)
    opsp_dise_code: str = Field(min_length=1, max_length=30)
    opsp_dise_name: str | None = Field(default=None, max_length=100)
    ide_fixmedins_no: str | None = Field(default=None, max_length=12)
    """the designated institution that diagnosed it (鉴定定点医药机构)."""
    begndate: date
    enddate: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> QualificationRecord:
        if self.enddate is not None and self.enddate < self.begndate:
            raise ValueError(f"enddate {self.enddate} is before begndate {self.begndate}")
        return self


def parse_qualification(data: object) -> QualificationRecord:
    try:
        return QualificationRecord.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc)[0]) from None


def record(conn: Connection, book: PolicyBook, q: QualificationRecord) -> dict:
    """Store the qualification; the disease must be on the insured region's list on `begndate`, and the member
    must not hold an overlapping one for the same disease. Returns the row (trt_dcla_detl_sn is its number)."""
    person = registered_person(conn, q.psn_no, "psn_no")
    try:
        version = book.policy_for(person["insuplc_admdvs"], q.begndate)
    except PolicyNotFound as exc:
        raise InputError(f"begndate: {exc}") from None
    disease = version.disease(q.opsp_dise_code)
    if disease is None:
        raise InputError(f"opsp_dise_code: {q.opsp_dise_code!r} is not on the chronic and special disease list of "
                         f"{person['insuplc_admdvs']} on {q.begndate}",
                         f"opsp_dise_code {q.opsp_dise_code!r} 不在参保地 {person['insuplc_admdvs']} "
                         "的门诊慢特病病种目录中")
    clash = conn.execute(select(qualifications.c.trt_dcla_detl_sn).where(
        qualifications.c.psn_no == q.psn_no, qualifications.c.opsp_dise_code == q.opsp_dise_code,
        qualifications.c.cancelled_at.is_(None),
        or_(qualifications.c.enddate.is_(None), qualifications.c.enddate >= q.begndate),
        *([qualifications.c.begndate <= q.enddate] if q.enddate else []))).scalar()
    if clash:
        raise InputError(f"opsp_dise_code: {q.psn_no} is already qualified for {q.opsp_dise_code} in that period "
                         f"({clash})", f"参保人 {q.psn_no} 在该期间已有 {q.opsp_dise_code} 的慢特病备案（{clash}）")
    row = {"trt_dcla_detl_sn": "T" + uuid.uuid4().hex[:24].upper(), **q.model_dump(),
           "opsp_dise_name": q.opsp_dise_name or disease.name, "recorded_at": now(), "cancelled_at": None,
           "memo": None}
    conn.execute(insert(qualifications).values(**row))
    return row


def cancel(conn: Connection, psn_no: str, trt_dcla_detl_sn: str, memo: str | None = None) -> Mapping:
    """2504: the qualification no longer holds; settlements made under it stand."""
    found = conn.execute(select(qualifications).where(qualifications.c.trt_dcla_detl_sn == trt_dcla_detl_sn,
                                                      qualifications.c.psn_no == psn_no)).mappings().first()
    if found is None:
        raise InputError(f"trt_dcla_detl_sn: {trt_dcla_detl_sn!r} is not a qualification of {psn_no}",
                         f"备案流水号 {trt_dcla_detl_sn!r} 不存在：参保人 {psn_no} 没有这条慢特病备案")
    if found["cancelled_at"] is not None:
        raise InputError(f"trt_dcla_detl_sn: {trt_dcla_detl_sn} was already cancelled",
                         f"备案 {trt_dcla_detl_sn} 已撤销")
    conn.execute(update(qualifications).where(qualifications.c.trt_dcla_detl_sn == trt_dcla_detl_sn)
                 .values(cancelled_at=now(), memo=memo))
    return found


def of_person(conn: Connection, psn_no: str, cancelled: bool = False) -> list[Mapping]:
    """5301: every qualification of the member that is not cancelled (with `cancelled`, those too), earliest
    first."""
    where = [qualifications.c.psn_no == psn_no]
    if not cancelled:
        where.append(qualifications.c.cancelled_at.is_(None))
    return list(conn.execute(select(qualifications).where(*where)
                             .order_by(qualifications.c.begndate, qualifications.c.recorded_at)).mappings())


def holding(conn: Connection, psn_no: str, code: str, on: date) -> Mapping | None:
    """The member's qualification for disease `code` in force on `on`, if any."""
    return conn.execute(select(qualifications).where(
        qualifications.c.psn_no == psn_no, qualifications.c.opsp_dise_code == code,
        qualifications.c.cancelled_at.is_(None), qualifications.c.begndate <= on,
        or_(qualifications.c.enddate.is_(None), qualifications.c.enddate >= on))).mappings().first()
