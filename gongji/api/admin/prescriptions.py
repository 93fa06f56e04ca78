"""Electronic prescriptions (外配处方) for bureau staff: record one on behalf of a designated medical institution,
read one with its drugs and the settlements that used it, revoke an unused one."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import BeforeValidator, Field
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from gongji.api.admin.auth import Operator, Reader
from gongji.api.admin.common import Body, Book, Db, Out, Timestamp, not_found, problems, refused, scaled
from gongji.services import audit_log, benefit_views, prescriptions
from gongji.services.imports import AlreadyRegistered
from gongji.store.db import transaction
from gongji.store.tables import prescriptions as prescriptions_table

router = APIRouter(tags=["prescriptions"])
LATEST_DAY = date.max - timedelta(days=366)
"""the latest prsc_date whose validity still ends within the calendar."""
FixmedinsCode = Annotated[str, Field(pattern=r"^H\d{11}$", examples=["H32100000003"])]


def _text(value: object) -> object:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


QuantityText = Annotated[str, BeforeValidator(_text), Field(pattern=r"^\d{1,10}(\.\d{1,4})?$", examples=["30"])]
"""A quantity with up to four decimals."""


class DrugIn(Body):
    med_list_codg: str = Field(min_length=1, max_length=50)
    drug_genname: str = Field(min_length=1, max_length=200)
    drug_cnt: QuantityText
    medc_days: int = Field(ge=1, le=3660)
    """days of supply (用药天数)."""


class PrescriptionRequest(Body):
    """A prescription as the institution wrote it (national e-prescription field names)."""

    fixmedins_code: FixmedinsCode
    """the designated medical institution that wrote it."""
    hosp_rxno: str = Field(min_length=1, max_length=40)
    """the institution's own prescription number."""
    psn_no: str = Field(min_length=1, max_length=30)
    prsc_dr_name: str = Field(min_length=1, max_length=50)
    prsc_dept_name: str | None = Field(default=None, max_length=50)
    diag_code: str = Field(min_length=1, max_length=30)
    diag_name: str = Field(min_length=1, max_length=100)
    prsc_date: date = Field(le=LATEST_DAY)
    valid_days: int | None = Field(default=None, ge=1, le=366)
    """fewer days of validity than the policy allows, when the doctor says so."""
    drugs: list[DrugIn] = Field(min_length=1, max_length=200)


class Drug(Out):
    med_list_codg: str
    drug_genname: str
    drug_cnt: str
    """quantity with four decimals."""
    medc_days: int


class UsedBy(Out):
    setl_id: str
    fixmedins_code: str
    setl_date: date
    reverses: str | None
    reversed_by: str | None


class Prescription(Out):
    rxno: str
    """gongji's number (hi_rxno), which the pharmacy quotes."""
    fixmedins_code: str
    hosp_rxno: str
    psn_no: str
    prsc_dr_name: str
    prsc_dept_name: str | None
    diag_code: str
    diag_name: str
    prsc_date: date
    valid_end: date
    """the last day a pharmacy may settle it."""
    recorded_at: Timestamp
    revoked_at: Timestamp | None
    setl_id: str | None
    """the settlement that uses it now (cleared again when that settlement is reversed)."""
    drugs: list[Drug]
    settlements: list[UsedBy]
    """every settlement and reversal that named it, in the order made."""


def _view(conn: Connection, rxno: str) -> dict:
    found = benefit_views.prescription(conn, rxno)
    if found is None:
        raise not_found(f"rxno: {rxno!r} is not a recorded prescription")
    return found


def _out(view: dict) -> Prescription:
    return Prescription(**view | {"drugs": [Drug(**d | {"drug_cnt": scaled(d["drug_cnt"])}) for d in view["drugs"]],
                                  "settlements": [UsedBy(**u) for u in view["settlements"]]})


def _logged(view: dict) -> dict:
    """The record as the audit log keeps it (quantities in 1/10000)."""
    return {k: v for k, v in view.items() if k != "settlements"}


@router.post("/prescriptions", status_code=201, response_model=Prescription, responses=problems(400, 409))
def create_prescription(body: PrescriptionRequest, user: Operator, engine: Db, book: Book) -> Prescription:
    """Record a prescription a designated medical institution wrote; the answer holds its `rxno` and `valid_end`.
    The same hosp_rxno of the same institution again is refused (409)."""
    with refused():
        rx = prescriptions.parse_prescription(body.model_dump(exclude={"fixmedins_code"}))
        try:
            with transaction(engine) as conn:
                if conn.execute(select(prescriptions_table.c.rxno).where(
                        prescriptions_table.c.fixmedins_code == body.fixmedins_code,
                        prescriptions_table.c.hosp_rxno == body.hosp_rxno)).first():
                    raise AlreadyRegistered(f"hosp_rxno: {body.hosp_rxno!r} was already recorded by "
                                            f"{body.fixmedins_code}")
                row = prescriptions.record(conn, book, body.fixmedins_code, rx)
                view = _view(conn, row["rxno"])
                audit_log.record(conn, user.name, "prescription.create", row["rxno"], None, _logged(view))
        except IntegrityError:  # the same prescription recorded at the same time
            raise AlreadyRegistered(f"hosp_rxno: {body.hosp_rxno!r} was recorded at the same time by another "
                                    "request") from None
    return _out(view)


@router.get("/prescriptions/{rxno}", response_model=Prescription, responses=problems(404))
def read_prescription(rxno: str, _user: Reader, engine: Db) -> Prescription:
    """One prescription, its drugs and the settlements that used it."""
    with engine.connect() as conn:
        return _out(_view(conn, rxno))


class RevokeRequest(Body):
    fixmedins_code: FixmedinsCode
    """the institution that wrote it: only it may withdraw it."""


@router.post("/prescriptions/{rxno}/revoke", response_model=Prescription, responses=problems(400, 404))
def revoke_prescription(rxno: str, body: RevokeRequest, user: Operator, engine: Db) -> Prescription:
    """Withdraw an unused prescription (处方撤销) for the institution that wrote it; a used one, one of another
    institution or one revoked before is refused."""
    with refused(), transaction(engine) as conn:
        before = _view(conn, rxno)
        if before["revoked_at"] is not None:
            raise HTTPException(422, f"rxno: {rxno} was already revoked on {before['revoked_at']:%Y-%m-%d %H:%M:%S}")
        prescriptions.revoke(conn, body.fixmedins_code, rxno)
        after = _view(conn, rxno)
        audit_log.record(conn, user.name, "prescription.revoke", rxno, _logged(before), _logged(after))
    return _out(after)

