"""Inpatient stays (住院), as far as outpatient pooling needs them: while a stay is open, outpatient costs
are not pooled (Yangzhou Q10)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, insert, select, update

from gongji.errors import InputError
from gongji.services.family import registered_person
from gongji.store.db import transaction
from gongji.store.tables import institutions, stays


def admit(engine: Engine, psn_no: str, fixmedins_code: str, on: date) -> int:
    with transaction(engine) as conn:
        registered_person(conn, psn_no, "psn_no")
        kind = conn.execute(select(institutions.c.fixmedins_type)
                            .where(institutions.c.fixmedins_code == fixmedins_code)).scalar()
        if kind != "1":
            raise InputError(f"institution: {fixmedins_code!r} is not a registered medical institution")
        if conn.execute(select(stays.c.id).where(stays.c.psn_no == psn_no, stays.c.discharged_on.is_(None))).first():
            raise InputError(f"psn_no: {psn_no} already has an open stay")
        return conn.execute(insert(stays).values(psn_no=psn_no, fixmedins_code=fixmedins_code, admitted_on=on)
                            .returning(stays.c.id)).scalar_one()


def discharge(engine: Engine, psn_no: str, on: date) -> None:
    with transaction(engine) as conn:
        stay = conn.execute(select(stays.c.id, stays.c.admitted_on)
                            .where(stays.c.psn_no == psn_no, stays.c.discharged_on.is_(None))).first()
        if stay is None:
            raise InputError(f"psn_no: {psn_no!r} has no open stay")
        if on < stay.admitted_on:
            raise InputError(f"date: {on} is before the admission on {stay.admitted_on}")
        conn.execute(update(stays).where(stays.c.id == stay.id).values(discharged_on=on))
