"""Electronic prescriptions (外配处方, 电子处方流转): a designated medical institution records one; a pharmacy
admitted to outpatient pooling settles drugs against it once, while it is valid.

A prescription the policy does not admit (expired, used, revoked, more days of supply than allowed, a drug or
a quantity it does not cover) is not an error: the sale is settled without the pooled fund and says why.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, Engine, insert, select, update

from gongji.errors import InputError, describe
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services.family import registered_person
from gongji.services.notes import Note
from gongji.services.records import HOSPITAL, Quantity
from gongji.store.db import transaction
from gongji.store.ledger import now
from gongji.store.tables import institutions, prescription_drugs, prescriptions


class PrescribedDrug(BaseModel):
    """One drug of a prescription: catalogue code, name, quantity and days of supply (用药天数)."""

    model_config = ConfigDict(extra="forbid")
    med_list_codg: str = Field(min_length=1, max_length=50)
    drug_genname: str = Field(min_length=1, max_length=200)
    drug_cnt: Annotated[Quantity, Field(gt=0)]
    medc_days: Annotated[int, Field(ge=1, le=3660)]


class PrescriptionRecord(BaseModel):
    """A prescription as the institution writes it (national e-prescription field names)."""

    model_config = ConfigDict(extra="forbid")
    hosp_rxno: str = Field(min_length=1, max_length=40)
    """the institution's own prescription number."""
    psn_no: str = Field(min_length=1, max_length=30)
    prsc_dr_name: str = Field(min_length=1, max_length=50)
    prsc_dept_name: str | None = Field(default=None, max_length=50)
    diag_code: str = Field(min_length=1, max_length=30)
    diag_name: str = Field(min_length=1, max_length=100)
    prsc_date: Annotated[date, Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))]
    valid_days: Annotated[int, Field(ge=1, le=366)] | None = None
    """fewer days than the policy allows, when the doctor says so."""
    drugs: list[PrescribedDrug] = Field(min_length=1, max_length=200)


def parse_prescription(data: object) -> PrescriptionRecord:
    try:
        return PrescriptionRecord.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc)[0]) from None


def record(conn: Connection, book: PolicyBook, fixmedins_code: str, rx: PrescriptionRecord) -> dict:
    """Store the prescription `fixmedins_code` wrote; returns its row, whose `rxno` (hi_rxno) the pharmacy
    quotes. Validity is the policy's `valid_days` from the day written, or fewer if the doctor gives fewer."""
    person = registered_person(conn, rx.psn_no, "psn_no")
    kind = conn.execute(select(institutions.c.fixmedins_type, institutions.c.designated)
                        .where(institutions.c.fixmedins_code == fixmedins_code)).first()
    if kind is None or kind.fixmedins_type != HOSPITAL or not kind.designated:
        raise InputError(f"fixmedins_code: {fixmedins_code!r} is not a designated medical institution and cannot "
                         "write prescriptions", f"fixmedins_code {fixmedins_code!r} 不是定点医疗机构，不能开具外配处方")
    codes = [d.med_list_codg for d in rx.drugs]
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        raise InputError(f"drugs: {twice[0]!r} is listed twice; give each drug once with its whole quantity",
                         f"处方药品 {twice[0]!r} 重复，每种药品只列一次")
    if conn.execute(select(prescriptions.c.rxno).where(prescriptions.c.fixmedins_code == fixmedins_code,
                                                       prescriptions.c.hosp_rxno == rx.hosp_rxno)).first():
        raise InputError(f"hosp_rxno: {rx.hosp_rxno!r} was already recorded by {fixmedins_code}",
                         f"处方编号 hosp_rxno {rx.hosp_rxno!r} 已上传，不能重复上传")
    try:
        rules = book.policy_for(person["insuplc_admdvs"], rx.prsc_date).outpatient
    except PolicyNotFound as exc:
        raise InputError(f"prsc_date: {exc}") from None
    allowed = rules.pharmacy.prescriptions.valid_days if rules is not None else 1
    days = min(allowed, rx.valid_days or allowed)
    if rx.prsc_date > date(2999, 12, 31):  # the doors that build the record without validation
        raise InputError(f"prsc_date: {rx.prsc_date} is not a plausible day", f"开方日期 {rx.prsc_date} 不合理")
    row = {"rxno": "RX" + uuid.uuid4().hex[:22].upper(), "fixmedins_code": fixmedins_code,
           **rx.model_dump(exclude={"drugs", "valid_days"}), "valid_end": rx.prsc_date + timedelta(days=days - 1),
           "recorded_at": now(), "revoked_at": None, "setl_id": None}
    conn.execute(insert(prescriptions).values(**row))
    conn.execute(insert(prescription_drugs), [d.model_dump() | {"rxno": row["rxno"]} for d in rx.drugs])
    return row


def record_prescription(engine: Engine, book: PolicyBook, fixmedins_code: str, data: object) -> dict:
    """`record` in its own transaction, from unparsed input."""
    rx = parse_prescription(data)
    with transaction(engine) as conn:
        return record(conn, book, fixmedins_code, rx)


def revoke(conn: Connection, fixmedins_code: str, rxno: str) -> None:
    """The writing institution withdraws an unused prescription (处方撤销)."""
    found = _one(conn, rxno)
    if found["fixmedins_code"] != fixmedins_code:
        raise InputError(f"rxno: {rxno!r} is not a prescription of {fixmedins_code}",
                         f"处方 rxno {rxno!r} 不存在：本机构没有这张处方")
    if found["setl_id"] is not None:
        raise InputError(f"rxno: {rxno} was used by settlement {found['setl_id']} and cannot be revoked",
                         f"处方 {rxno} 已结算（{found['setl_id']}），不能撤销")
    if found["revoked_at"] is None:
        conn.execute(update(prescriptions).where(prescriptions.c.rxno == rxno).values(revoked_at=now()))


def _one(conn: Connection, rxno: str) -> Mapping:
    found = conn.execute(select(prescriptions).where(prescriptions.c.rxno == rxno)).mappings().first()
    if found is None:
        raise InputError(f"rxno: {rxno!r} is not a recorded prescription", f"处方 rxno {rxno!r} 不存在")
    return found


def drugs_of(conn: Connection, rxno: str) -> list[Mapping]:
    return list(conn.execute(select(prescription_drugs).where(prescription_drugs.c.rxno == rxno)
                             .order_by(prescription_drugs.c.id)).mappings())


def check(conn: Connection, rxno: str, psn_no: str, on: date, bought: dict[str, int], max_supply_days: int
          ) -> tuple[Mapping, Note | None]:
    """The prescription `rxno` for a sale to `psn_no` on `on` of `bought` (code -> quantity in 1/10000), and
    why the pooled fund may not pay on it (None when it may)."""
    rx = _one(conn, rxno)
    if rx["psn_no"] != psn_no:
        raise InputError(f"rxno: {rxno} was written for another person, not {psn_no}",
                         f"处方 {rxno} 不是参保人 {psn_no} 的处方")
    if rx["revoked_at"] is not None:
        return rx, Note(f"外配处方 {rxno} was revoked by its institution: account or cash only",
                        f"外配处方 {rxno} 已被开方机构撤销，统筹基金不予支付（个人账户或现金支付）")
    if rx["setl_id"] is not None:
        return rx, Note(f"外配处方 {rxno} was already used (settlement {rx['setl_id']}): account or cash only",
                        f"外配处方 {rxno} 已使用（结算 {rx['setl_id']}），统筹基金不予支付")
    if on < rx["prsc_date"]:
        raise InputError(f"begntime: {on} is before prescription {rxno} was written ({rx['prsc_date']})",
                         f"购药日期 {on} 早于处方 {rxno} 开具日期 {rx['prsc_date']}")
    if on > rx["valid_end"]:
        return rx, Note(f"外配处方 {rxno} expired on {rx['valid_end']}: account or cash only",
                        f"外配处方 {rxno} 已于 {rx['valid_end']} 过期，统筹基金不予支付")
    drugs = {d["med_list_codg"]: d for d in drugs_of(conn, rxno)}
    longest = max(d["medc_days"] for d in drugs.values())
    if longest > max_supply_days:
        return rx, Note(f"外配处方 {rxno} covers {longest} days of supply, more than {max_supply_days}: account or "
                        "cash only", f"外配处方 {rxno} 用药 {longest} 天，超过 {max_supply_days} 天，统筹基金不予支付")
    for code, quantity in bought.items():
        if code not in drugs:
            return rx, Note(f"{code} is not on 外配处方 {rxno}: account or cash only",
                            f"{code} 不在外配处方 {rxno} 上，统筹基金不予支付")
        if quantity > drugs[code]["drug_cnt"]:
            return rx, Note(f"{code}: more than 外配处方 {rxno} prescribes: account or cash only",
                            f"{code} 数量超过外配处方 {rxno} 所开，统筹基金不予支付")
    return rx, None


def use(conn: Connection, rxno: str, setl_id: str) -> None:
    """Mark the prescription used by `setl_id`; a concurrent sale that used it first makes this one fail."""
    done = conn.execute(update(prescriptions).where(prescriptions.c.rxno == rxno, prescriptions.c.setl_id.is_(None))
                        .values(setl_id=setl_id))
    if done.rowcount != 1:
        raise InputError(f"rxno: {rxno} was used by another settlement meanwhile", f"处方 {rxno} 已被使用")


def release(conn: Connection, setl_id: str) -> None:
    """The settlement `setl_id` was reversed: its prescription may be used again while valid."""
    conn.execute(update(prescriptions).where(prescriptions.c.setl_id == setl_id).values(setl_id=None))
