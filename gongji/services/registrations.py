"""Cross-region care (异地就医): a member insured in one region treated at an institution of another settles
under the insured region's policy (参保地政策) with the treating region's catalogue (就医地目录). A registration
(异地就医备案) says where, when and why; without one, the insured region's `cross_region.unregistered` decides.

Regions are pooled by city (市级统筹): a county's institution is in its city's region, so 530925 is 530900.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, insert, or_, select, update

from gongji.errors import InputError, describe
from gongji.services.family import registered_person
from gongji.store.ledger import now
from gongji.store.tables import registrations

REASONS_ZH = {"resident": "异地长期居住", "referral": "转诊转院", "temporary": "临时外出就医"}


def pooling_region(admdvs: str) -> str:
    """The city whose pool a region code belongs to: 530925 -> 530900; a province or city code is itself."""
    return admdvs if admdvs.endswith("00") else admdvs[:4] + "00"


def is_cross_region(insuplc_admdvs: str, mdtrtarea_admvs: str) -> bool:
    return pooling_region(insuplc_admdvs) != pooling_region(mdtrtarea_admvs)


class RegistrationRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    psn_no: str = Field(min_length=1, max_length=30)
    mdtrtarea_admvs: str = Field(pattern=r"^\d{6}$")
    """where the member will be treated: a city (or county) code, or a province's (ends in 0000) for all of it."""
    reason: Literal["resident", "referral", "temporary"]
    begndate: date
    enddate: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> RegistrationRecord:
        if self.enddate is not None and self.enddate < self.begndate:
            raise ValueError(f"enddate {self.enddate} is before begndate {self.begndate}")
        return self


def parse_registration(data: object) -> RegistrationRecord:
    try:
        return RegistrationRecord.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc)[0]) from None


def record(conn: Connection, r: RegistrationRecord) -> dict:
    person = registered_person(conn, r.psn_no, "psn_no")
    if not is_cross_region(person["insuplc_admdvs"], r.mdtrtarea_admvs) and not r.mdtrtarea_admvs.endswith("0000"):
        raise InputError(f"mdtrtarea_admvs: {r.mdtrtarea_admvs} is in the member's own region "
                         f"{pooling_region(person['insuplc_admdvs'])}; no registration is needed there",
                         f"就医地 {r.mdtrtarea_admvs} 属于参保地统筹区，无需异地就医备案")
    clash = conn.execute(select(registrations.c.id).where(
        registrations.c.psn_no == r.psn_no, registrations.c.mdtrtarea_admvs == r.mdtrtarea_admvs,
        registrations.c.revoked_at.is_(None),
        or_(registrations.c.enddate.is_(None), registrations.c.enddate >= r.begndate),
        *([registrations.c.begndate <= r.enddate] if r.enddate else []))).scalar()
    if clash is not None:
        raise InputError(f"begndate: {r.psn_no} already has registration {clash} for {r.mdtrtarea_admvs} in that "
                         "period; revoke it first",
                         f"参保人 {r.psn_no} 在该期间已有 {r.mdtrtarea_admvs} 的异地就医备案")
    row = {**r.model_dump(), "recorded_at": now(), "revoked_at": None}
    row["id"] = conn.execute(insert(registrations).values(**row).returning(registrations.c.id)).scalar_one()
    return row


def revoke(conn: Connection, registration_id: int) -> Mapping:
    found = conn.execute(select(registrations).where(registrations.c.id == registration_id)).mappings().first()
    if found is None:
        raise InputError(f"id: {registration_id} is not a registration")
    if found["revoked_at"] is not None:
        raise InputError(f"id: registration {registration_id} was already revoked")
    conn.execute(update(registrations).where(registrations.c.id == registration_id).values(revoked_at=now()))
    return found


def of_person(conn: Connection, psn_no: str) -> list[Mapping]:
    return list(conn.execute(select(registrations).where(registrations.c.psn_no == psn_no)
                             .order_by(registrations.c.begndate, registrations.c.id)).mappings())


def covering(conn: Connection, psn_no: str, mdtrtarea_admvs: str, on: date) -> Mapping | None:
    """The member's registration in force on `on` for care in `mdtrtarea_admvs` (its city or its province)."""
    places = {mdtrtarea_admvs, pooling_region(mdtrtarea_admvs), mdtrtarea_admvs[:2] + "0000"}
    return conn.execute(select(registrations).where(
        registrations.c.psn_no == psn_no, registrations.c.mdtrtarea_admvs.in_(sorted(places)),
        registrations.c.revoked_at.is_(None), registrations.c.begndate <= on,
        or_(registrations.c.enddate.is_(None), registrations.c.enddate >= on))
        .order_by(registrations.c.id)).mappings().first()
