"""Read-only views of the issue-6 records for the admin API and the CLI: a prescription (外配处方) with its drugs
and the settlements that named it, one qualification (门诊慢特病备案) or registration (异地就医备案), cancelled
or revoked ones too. Rows as dicts, quantities in 1/10000."""

from __future__ import annotations

from sqlalchemy import Connection, select

from gongji.services.prescriptions import drugs_of
from gongji.store.tables import prescriptions, qualifications, registrations, settlements


def prescription(conn: Connection, rxno: str) -> dict | None:
    """The prescription, its `drugs`, and `settlements`: every settlement or reversal that named it, in the order
    made (`setl_id` of the prescription itself is the one that uses it now)."""
    found = conn.execute(select(prescriptions).where(prescriptions.c.rxno == rxno)).mappings().first()
    if found is None:
        return None
    s = settlements.c
    used = conn.execute(select(s.setl_id, s.fixmedins_code, s.setl_date, s.reverses, s.reversed_by)
                        .where(s.rxno == rxno).order_by(s.id)).mappings()
    return dict(found) | {"drugs": [dict(d) for d in drugs_of(conn, rxno)], "settlements": [dict(u) for u in used]}


def qualification(conn: Connection, psn_no: str, trt_dcla_detl_sn: str) -> dict | None:
    q = qualifications.c
    found = conn.execute(select(qualifications).where(q.psn_no == psn_no, q.trt_dcla_detl_sn == trt_dcla_detl_sn)
                         ).mappings().first()
    return None if found is None else dict(found)


def registration(conn: Connection, registration_id: int) -> dict | None:
    found = conn.execute(select(registrations).where(registrations.c.id == registration_id)).mappings().first()
    return None if found is None else dict(found)
