"""Inpatient stays (住院), as far as outpatient pooling needs them: while a stay is open, outpatient costs
are not pooled (Yangzhou Q10).

`admit_in` / `discharge_in` work in the caller's transaction (the admin API writes its audit row there too);
`admit` / `discharge` are each one transaction of their own."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import Connection, Engine, insert, select, update

from gongji.errors import InputError
from gongji.services.family import registered_person
from gongji.services.records import HOSPITAL
from gongji.store.db import transaction
from gongji.store.tables import institutions, stays


def admit_in(conn: Connection, psn_no: str, fixmedins_code: str, on: date, field: str = "institution") -> dict:
    """Open a stay of `psn_no` at a medical institution from `on`; returns its row. `field` names the
    institution in a refusal."""
    registered_person(conn, psn_no, "psn_no")
    kind = conn.execute(select(institutions.c.fixmedins_type)
                        .where(institutions.c.fixmedins_code == fixmedins_code)).scalar()
    if kind != HOSPITAL:
        raise InputError(f"{field}: {fixmedins_code!r} is not a registered medical institution")
    if conn.execute(select(stays.c.id).where(stays.c.psn_no == psn_no, stays.c.discharged_on.is_(None))).first():
        raise InputError(f"psn_no: {psn_no} already has an open stay")
    row = {"psn_no": psn_no, "fixmedins_code": fixmedins_code, "admitted_on": on, "discharged_on": None}
    row["id"] = conn.execute(insert(stays).values(**row).returning(stays.c.id)).scalar_one()
    return row


def discharge_in(conn: Connection, psn_no: str, on: date, field: str = "date") -> tuple[dict, dict]:
    """Close the open stay of `psn_no` on `on`; returns the stay before and after. `field` names the date in a
    refusal."""
    stay = conn.execute(select(stays).where(stays.c.psn_no == psn_no, stays.c.discharged_on.is_(None))
                        ).mappings().first()
    if stay is None:
        raise InputError(f"psn_no: {psn_no!r} has no open stay")
    if on < stay["admitted_on"]:
        raise InputError(f"{field}: {on} is before the admission on {stay['admitted_on']}")
    conn.execute(update(stays).where(stays.c.id == stay["id"]).values(discharged_on=on))
    return dict(stay), dict(stay) | {"discharged_on": on}


def of_person(conn: Connection, psn_no: str) -> list[Mapping]:
    """Every stay of `psn_no`, earliest first."""
    return list(conn.execute(select(stays).where(stays.c.psn_no == psn_no)
                             .order_by(stays.c.admitted_on, stays.c.id)).mappings())


def admit(engine: Engine, psn_no: str, fixmedins_code: str, on: date) -> int:
    with transaction(engine) as conn:
        return admit_in(conn, psn_no, fixmedins_code, on)["id"]


def discharge(engine: Engine, psn_no: str, on: date) -> None:
    with transaction(engine) as conn:
        discharge_in(conn, psn_no, on)
