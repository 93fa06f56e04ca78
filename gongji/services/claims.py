"""Stored settlements as the monitoring rules read them (gongji.monitor): frames for the batch over a period, and
`Claim` values for a member's history online. Standing settlements only (a reversed one and its reversal are
left out)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import polars as pl
from sqlalchemy import Connection, String, and_, bindparam, exists, func, literal, or_, select

from gongji.engine.bill import PRICE_SCALE
from gongji.money import div_half_up
from gongji.monitor.batch import CLAIM_COLUMNS, LINE_COLUMNS
from gongji.monitor.claims import Claim, Line
from gongji.store.ledger import ACCOUNT, MULAID_PAY
from gongji.store.tables import (
    catalogue,
    ledger,
    persons,
    prescription_drugs,
    prescriptions,
    settlement_lines,
    settlements,
    stays,
    visits,
)

_STANDING = and_(settlements.c.reverses.is_(None), settlements.c.reversed_by.is_(None))


def _claim_columns():
    s, p = settlements.c, persons.c
    return (s.setl_id.label("key"), s.id.label("seq"), s.psn_no, p.gend.label("sex"), p.brdy.label("birth_date"),
            s.member_type, s.fixmedins_code, s.setting, func.coalesce(s.level, literal(0)).label("level"),
            s.med_type, s.setl_date.label("on"), (s.hifp_pay + s.inpatient_pay + s.chronic_pay).label("fund_paid"),
            s.rxno, s.prescriber_code, s.medfee_sumamt.label("total"))


_IN_PERIOD = and_(_STANDING, settlements.c.setl_date >= bindparam("date_from"),
                  settlements.c.setl_date <= bindparam("date_to"))


def _claims_query(one_member: bool):
    s = settlements.c
    in_stay = exists().where(stays.c.psn_no == s.psn_no, stays.c.admitted_on <= s.setl_date,
                             or_(stays.c.discharged_on.is_(None), stays.c.discharged_on >= s.setl_date))
    payer = select(func.min(ledger.c.holder)).where(ledger.c.setl_id == s.setl_id, ledger.c.kind == MULAID_PAY) \
        .scalar_subquery()
    if one_member:  # a member's history online: the rules read the stay and the payer of the claim checked only
        in_stay, payer = literal(False), literal(None, String)
    query = select(
        *_claim_columns(), in_stay.label("in_stay"), payer.label("payer_psn_no"), s.dise_codg, visits.c.diagnoses,
        prescriptions.c.diag_code,
    ).select_from(settlements.join(persons, persons.c.psn_no == s.psn_no)
                  .outerjoin(visits, visits.c.mdtrt_id == s.mdtrt_id)
                  .outerjoin(prescriptions, prescriptions.c.rxno == s.rxno)).where(_IN_PERIOD)
    if one_member:
        query = query.where(s.psn_no == bindparam("psn_no"))
    return query.order_by(s.setl_date, s.id)


def _paid_for_others_query():
    """The claims of others an account paid (家庭共济), lean: no stays, diagnoses or payer lookups."""
    s = settlements.c
    paid = select(ledger.c.setl_id).where(
        ledger.c.fund == ACCOUNT, ledger.c.holder == bindparam("payer"), ledger.c.kind == MULAID_PAY,
        ledger.c.occurred_on >= bindparam("date_from"), ledger.c.occurred_on <= bindparam("date_to"))
    return select(*_claim_columns()).select_from(settlements.join(persons, persons.c.psn_no == s.psn_no)) \
        .where(_IN_PERIOD, s.setl_id.in_(paid), s.psn_no != bindparam("payer")).order_by(s.setl_date, s.id)


# built once: a member's history is read inside every settlement
_CLAIMS = {one: _claims_query(one) for one in (False, True)}
_PAID_FOR_OTHERS = _paid_for_others_query()


def diagnosis_codes(visit_diagnoses: str | None, dise_codg: str | None, rx_diagnosis: str | None) -> list[str]:
    """A claim's diagnosis codes, each once: the visit's (2201 diseinfo, stored as JSON), the chronic disease's, the
    prescription's."""
    codes: list[str] = []
    if visit_diagnoses:
        codes += [d.get("diag_code") for d in json.loads(visit_diagnoses)
                  if isinstance(d, dict) and d.get("diag_code")]
    codes += [c for c in (dise_codg, rx_diagnosis) if c]
    return list(dict.fromkeys(codes))


_KINDS = select(catalogue.c.med_list_codg, func.min(catalogue.c.list_type)).group_by(catalogue.c.med_list_codg)
_KINDS_OF = _KINDS.where(catalogue.c.med_list_codg.in_(bindparam("codes", expanding=True)))


def kinds(conn: Connection, codes: Iterable[str] | None = None) -> dict[str, str]:
    """Catalogue code -> list_type (drug, service, material), any region's row; of `codes`, or of every item."""
    if codes is None:
        return {code: kind for code, kind in conn.execute(_KINDS)}
    wanted = sorted(codes)
    return {code: kind for code, kind in conn.execute(_KINDS_OF, {"codes": wanted})} if wanted else {}


def _lines_query(one_member: bool):
    """The lines of the claims `keys` (the batch), or of one member's claims in a period: a statement of fixed
    text, which PostgreSQL plans once per connection."""
    line, s = settlement_lines.c, settlements.c
    days = select(func.max(prescription_drugs.c.medc_days)).where(
        prescription_drugs.c.rxno == func.coalesce(line.rxno, s.rxno),
        prescription_drugs.c.med_list_codg == line.med_list_codg).scalar_subquery()
    kind = select(func.min(catalogue.c.list_type)).where(catalogue.c.med_list_codg == line.med_list_codg) \
        .scalar_subquery()
    query = select(line.setl_id.label("key"), line.feedetl_sn.label("sn"), line.med_list_codg.label("code"),
                   line.cnt, line.pric, line.det_item_fee_sumamt.label("amount"), days.label("days"),
                   kind.label("kind")) \
        .select_from(settlement_lines.join(settlements, settlements.c.setl_id == line.setl_id))
    if one_member:
        query = query.where(_IN_PERIOD, s.psn_no == bindparam("psn_no"))
    else:
        query = query.where(line.setl_id.in_(bindparam("keys", expanding=True)))
    return query.order_by(line.setl_id, line.feedetl_sn)


_LINES = {one: _lines_query(one) for one in (False, True)}


def _read(conn: Connection, date_from: date, date_to: date, psn_no: str | None) -> tuple[list, list]:
    """(claim rows, line rows) of the standing settlements dated in [date_from, date_to]."""
    params = {"date_from": date_from, "date_to": date_to} | ({"psn_no": psn_no} if psn_no is not None else {})
    rows = conn.execute(_CLAIMS[psn_no is not None], params).all()
    if psn_no is not None:
        return rows, conn.execute(_LINES[True], params).all() if rows else []
    keys = [r.key for r in rows]
    line_rows = []
    for start in range(0, len(keys), 900):  # SQLite's bound-parameter limit
        line_rows += conn.execute(_LINES[False], {"keys": keys[start:start + 900]}).all()
    return rows, line_rows


def _claim_row(r) -> dict:
    return {c: getattr(r, c) for c in CLAIM_COLUMNS if c not in ("diagnoses", "designated")} | {
        "diagnoses": diagnosis_codes(r.diagnoses, r.dise_codg, r.diag_code), "designated": True,
        "in_stay": bool(r.in_stay)}


def _line_row(r) -> dict:
    return {"key": r.key, "sn": r.sn, "code": r.code, "quantity": Decimal(r.cnt) / PRICE_SCALE,
            "price": div_half_up(r.pric, PRICE_SCALE // 100), "amount": r.amount, "days": r.days,
            "trace_code": None, "kind": r.kind or "drug"}


def claim_frames(conn: Connection, date_from: date, date_to: date, psn_no: str | None = None) \
        -> tuple[pl.DataFrame, pl.DataFrame]:
    """(claims, lines) frames (batch.CLAIM_COLUMNS, batch.LINE_COLUMNS) of the standing settlements dated in
    [date_from, date_to], of one member (a history, as `member_claims`: in_stay false and no payer_psn_no) or all.
    `designated` is true: settlement refuses an institution that is not designated, so every stored claim was
    settled at a designated one (gongji keeps no history of pauses)."""
    rows, line_rows = _read(conn, date_from, date_to, psn_no)
    return (pl.DataFrame([_claim_row(r) for r in rows], schema=CLAIM_COLUMNS),
            pl.DataFrame([_line_row(r) for r in line_rows], schema=LINE_COLUMNS))


def member_claims(conn: Connection, psn_no: str, date_from: date, date_to: date) -> tuple[list[Claim], dict[str, str]]:
    """A member's claims dated in [date_from, date_to] as Claim values (the online rules' history, without the
    frames), and the kind of each item on them. The rules read a claim's stay and paying relative only of the claim
    checked, so the history leaves them out (in_stay false, payer_psn_no None)."""
    rows, line_rows = _read(conn, date_from, date_to, psn_no)
    lines: dict[str, list[Line]] = {}
    kinds: dict[str, str] = {}
    for r in line_rows:
        d = _line_row(r)
        kinds[d["code"]] = d.pop("kind")
        lines.setdefault(d.pop("key"), []).append(Line(**d))
    claims = []
    for r in rows:
        d = _claim_row(r)
        claims.append(Claim(**d | {"lines": tuple(lines.get(d["key"], ())), "diagnoses": tuple(d["diagnoses"])}))
    return claims, kinds


def paid_for_others(conn: Connection, payer_psn_no: str, date_from: date, date_to: date) -> list[Claim]:
    """The standing claims of other members dated in [date_from, date_to] that `payer_psn_no`'s account paid
    (家庭共济), oldest first, without their lines, diagnoses or stays (the family_account rule counts people and
    payments)."""
    rows = conn.execute(_PAID_FOR_OTHERS, {"payer": payer_psn_no, "date_from": date_from, "date_to": date_to})
    return [Claim(**r._asdict(), designated=True, payer_psn_no=payer_psn_no) for r in rows]


def claims_of(claims: pl.DataFrame, lines: pl.DataFrame) -> list[Claim]:
    """Claim values of the frames (for the online rules: a member's history)."""
    by_key: dict[str, list[Line]] = {}
    for r in lines.iter_rows(named=True):
        by_key.setdefault(r["key"], []).append(Line(r["sn"], r["code"], r["quantity"], r["price"], r["amount"],
                                                    r["days"], r["trace_code"]))
    return [Claim(**{**r, "lines": tuple(by_key.get(r["key"], ())), "diagnoses": tuple(r["diagnoses"])})
            for r in claims.iter_rows(named=True)]
