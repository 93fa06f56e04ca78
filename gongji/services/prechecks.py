"""明细审核: the national pre-check of an institution's orders before they are settled, 3101 (事前, while the
doctor orders) and 3102 (事中, at the charge or the settlement), answered by the same rules, history and knowledge
base as the checks inside a settlement (monitor_online); and 3103, the institution's answer to each warning
(处理方式: 1 went on, saying why; 2 went back to change the orders).

A pre-check settles nothing. Its warnings are kept (precheck_warnings) with what the institution did about them,
so the bureau sees who went on past a definite violation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, select, update

from gongji.engine.outpatient import CLINIC, PHARMACY
from gongji.errors import InputError
from gongji.monitor.checkers import Finding, subject
from gongji.monitor.claims import Claim
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services import monitor_online
from gongji.services.records import HOSPITAL, member_type_on
from gongji.store.ledger import now
from gongji.store.tables import institutions, persons, precheck_warnings, prescriptions

GO_ON, CHANGE = "1", "2"
"""dspo_way: the institution went on with the orders (继续执行), or went back to change them (返回修改)."""
NOT_ANSWERED = "none"
SCENES = {"1": "门诊挂号", "2": "门诊收费登记", "3": "住院登记", "4": "住院收费登记", "5": "住院执行医嘱",
          "6": "门诊结算", "7": "门诊预结算", "8": "住院结算", "9": "住院预结算"}
"""trig_scen: where in the institution's work the pre-check was asked for."""


class Order(NamedTuple):
    """One order (fsi_order_dtos): quantity and price in 1/10000, amount in fen."""

    rx_id: str | None
    rxno: str | None
    code: str
    cnt: int
    pric: int
    amount: int


class Encounter(NamedTuple):
    """One visit to check (fsi_encounter_dtos) and where its fields came from, to name them in an error."""

    mdtrt_id: str
    on: date
    med_type: str
    diagnoses: tuple[str, ...]
    orders: tuple[Order, ...]
    field: str


class Result(NamedTuple):
    """One finding of a pre-check, on its encounter."""

    jr_id: str
    psn_no: str
    encounter: Encounter
    finding: Finding

    @property
    def amount(self) -> int:
        """fen concerned: the order's amount, or the encounter's total (its fund share is not known before
        settlement)."""
        line = self.finding.line
        return self.encounter.orders[line - 1].amount if line else sum(o.amount for o in self.encounter.orders)


_INSTITUTION = select(institutions.c.fixmedins_type, institutions.c.hosp_lv, institutions.c.designated).where(
    institutions.c.fixmedins_code == bindparam("code"))
_PERSON = select(persons).where(persons.c.psn_no == bindparam("psn_no"))
_PRESCRIBER_LEVEL = select(institutions.c.hosp_lv).join_from(
    prescriptions, institutions, institutions.c.fixmedins_code == prescriptions.c.fixmedins_code).where(
    prescriptions.c.rxno == bindparam("rxno"))


def jr_id(fixmedins_code: str, msgid: str, psn_no: str, mdtrt_id: str, f: Finding) -> str:
    """A result's id (违规标识), the same for the same finding of the same message."""
    key = f"{fixmedins_code}|{msgid}|{psn_no}|{mdtrt_id}|{f.rule}|{f.line or ''}|{f.code}|{subject(f.rule, f.evidence)}"
    return "JR" + hashlib.sha1(key.encode()).hexdigest()[:30].upper()


def check(conn: Connection, book: PolicyBook, fixmedins_code: str, msgid: str, psn_no: str, field: str,
          encounters: Sequence[Encounter], rule_codes: frozenset[str] = frozenset()) -> list[Result]:
    """Every finding on `encounters` of `psn_no` (named by `field` in an error), each against the member's stored
    history, of the rules `rule_codes` names (national codes; all when empty)."""
    person = conn.execute(_PERSON, {"psn_no": psn_no}).mappings().first()
    if person is None:
        raise InputError(f"{field}: {psn_no!r} is not a registered person", f"{field} {psn_no!r} 查无此参保人")
    place = conn.execute(_INSTITUTION, {"code": fixmedins_code}).one()
    results: list[Result] = []
    for encounter in encounters:
        try:
            version = book.policy_for(person["insuplc_admdvs"], encounter.on)
        except PolicyNotFound as exc:
            raise InputError(f"{encounter.field}.adm_date: {exc}",
                             f"{encounter.field}.adm_date {encounter.on}：参保地 {person['insuplc_admdvs']} "
                             "当日没有有效政策") from None
        claim = _claim(conn, fixmedins_code, place, person, encounter)
        for f in monitor_online.findings(conn, version, claim):
            if not rule_codes or f.code in rule_codes:
                results.append(Result(jr_id(fixmedins_code, msgid, psn_no, encounter.mdtrt_id, f), psn_no,
                                      encounter, f))
    return results


def _claim(conn: Connection, fixmedins_code: str, place, person: Mapping, encounter: Encounter) -> Claim:
    setting = CLINIC if place.fixmedins_type == HOSPITAL else PHARMACY
    rxnos = {o.rxno for o in encounter.orders if o.rxno}
    rxno = min(rxnos) if len(rxnos) == 1 else None
    level = place.hosp_lv
    if setting == PHARMACY and rxno is not None:  # as a settlement: the level of the prescription's writer
        level = conn.execute(_PRESCRIBER_LEVEL, {"rxno": rxno}).scalar() or level
    row = {"psn_no": person["psn_no"], "setl_date": encounter.on, "fixmedins_code": fixmedins_code,
           "member_type": member_type_on(person["psn_type"], person["retire_date"], encounter.on),
           "setting": setting, "level": level, "med_type": encounter.med_type,
           "mdtrt_id": encounter.mdtrt_id, "dise_codg": None, "rxno": rxno,
           "hifp_pay": 0, "inpatient_pay": 0, "chronic_pay": 0, "prescriber_code": None,
           "medfee_sumamt": sum(o.amount for o in encounter.orders)}
    lines = [{"feedetl_sn": sn, "med_list_codg": o.code, "cnt": o.cnt, "pric": o.pric,
              "det_item_fee_sumamt": o.amount, "rxno": o.rxno} for sn, o in enumerate(encounter.orders, start=1)]
    claim = monitor_online.claim_of(conn, row, lines, person, [], encounter.diagnoses)
    return claim._replace(designated=bool(place.designated))


def record(conn: Connection, fixmedins_code: str, msgid: str, infno: str, trig_scen: str,
           results: Sequence[Result]) -> None:
    """Keep the warnings a pre-check answered."""
    if not results:
        return
    at = now()
    conn.execute(insert(precheck_warnings), [
        {"jr_id": r.jr_id, "fixmedins_code": fixmedins_code, "msgid": msgid, "infno": infno,
         "trig_scen": trig_scen, "psn_no": r.psn_no, "mdtrt_id": r.encounter.mdtrt_id, "rule": r.finding.rule,
         "code": r.finding.code, "cls": r.finding.cls, "line": r.finding.line, "amount": r.amount,
         "evidence": r.finding.evidence, "checked_at": at} for r in results])


class Disposition(NamedTuple):
    """One warns[] entry of 3103."""

    jr_id: str
    dspo_way: str
    reason: str | None
    field: str


def dispose(conn: Connection, fixmedins_code: str, warn_type: str, dispositions: Sequence[Disposition],
            at: datetime | None = None) -> int:
    """Record what the institution did about each warning: it must be one of its own, not yet answered, and
    going on (dspo_way 1) needs a reason. All or none are recorded."""
    wanted = [d.jr_id for d in dispositions]
    found = {r.jr_id: r for r in conn.execute(select(
        precheck_warnings.c.jr_id, precheck_warnings.c.fixmedins_code, precheck_warnings.c.dspo_way,
        precheck_warnings.c.disposed_at).where(precheck_warnings.c.jr_id.in_(wanted)))}
    seen: set[str] = set()
    for d in dispositions:
        row = found.get(d.jr_id)
        if row is None or row.fixmedins_code != fixmedins_code:
            raise InputError(f"{d.field}.warn_rslt_id: {d.jr_id!r} is not a warning answered to {fixmedins_code}",
                             f"{d.field}.warn_rslt_id {d.jr_id!r} 不是本机构（{fixmedins_code}）收到的审核结果")
        if row.dspo_way is not None or d.jr_id in seen:
            when = f" on {row.disposed_at:%Y-%m-%d %H:%M:%S}" if row.disposed_at else ""
            raise InputError(f"{d.field}.warn_rslt_id: {d.jr_id!r} was answered already{when}",
                             f"{d.field}.warn_rslt_id {d.jr_id!r} 已反馈过处理方式，不能再次反馈")
        if d.dspo_way == GO_ON and not d.reason:
            raise InputError(f"{d.field}.dspo_way_rea: missing (required when dspo_way is 1, going on)",
                             f"{d.field}.dspo_way_rea：处理方式为 1（继续执行）时必须填写处理原因")
        seen.add(d.jr_id)
    at = at or now()
    for d in dispositions:
        conn.execute(update(precheck_warnings).where(precheck_warnings.c.jr_id == d.jr_id).values(
            dspo_way=d.dspo_way, dspo_way_rea=d.reason, warn_type=warn_type, disposed_at=at))
    return len(dispositions)


def _where(date_from: date | None, date_to: date | None, institution: str | None, answer: str | None) -> list:
    w = precheck_warnings.c
    where = []
    if date_from is not None:
        where.append(w.checked_at >= datetime.combine(date_from, time()))
    if date_to is not None:
        where.append(w.checked_at < datetime.combine(date_to + timedelta(days=1), time()))
    if institution is not None:
        where.append(w.fixmedins_code == institution)
    if answer == NOT_ANSWERED:
        where.append(w.dspo_way.is_(None))
    elif answer is not None:
        where.append(w.dspo_way == answer)
    return where


def warnings(conn: Connection, date_from: date | None = None, date_to: date | None = None,
             institution: str | None = None, answer: str | None = None, limit: int | None = None,
             offset: int = 0) -> tuple[int, list[dict]]:
    """(how many, the page) of the pre-check warnings of a period (checked_at's day), newest first; `answer`: "1"
    went on, "2" changed, NOT_ANSWERED."""
    where = _where(date_from, date_to, institution, answer)
    total = conn.execute(select(func.count()).select_from(precheck_warnings).where(*where)).scalar_one()
    w = precheck_warnings.c
    query = select(precheck_warnings).where(*where).order_by(w.checked_at.desc(), w.jr_id).offset(offset) \
        .limit(limit)
    return total, [dict(r) for r in conn.execute(query).mappings()]
