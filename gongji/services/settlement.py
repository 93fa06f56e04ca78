"""Pre-settle (预结算), settle (结算) and reverse (撤销) one outpatient visit.

settle is one transaction: the settlement and its lines, the year's accumulators, the accounts, the pooled
fund and their ledger rows. Rows are locked in one order (the patient's accumulators, then the accounts in
psn_no order, then a pool slot), so concurrent settlements queue instead of deadlocking. An idempotency key
makes a repeated request return the stored settlement and move no money.

Reversal undoes one settlement exactly, once, for the institution that made it, and then recomputes the
patient's accumulators of that year by replaying the settlements that remain, in order: the next visit
gets what it would have got had the reversed one never happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, Engine, and_, bindparam, exists, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError, OperationalError

from gongji.engine.bill import CLASS_B, CLASS_C, BillSplit, LineItem, covered_only, split_line
from gongji.engine.dates import age_on
from gongji.engine.outpatient import CLINIC, PHARMACY, Accumulators, Adjudication, adjudicate
from gongji.engine.terms import terms_for
from gongji.errors import InputError, describe
from gongji.money import format_ratio
from gongji.policy.loader import PolicyBook, PolicyNotFound, fallback_chain
from gongji.policy.schema import Disease, Version
from gongji.services import monitor_online, monitor_queue, prescriptions, qualifications, registrations
from gongji.services.notes import Note, joined
from gongji.services.records import (
    CHRGITM_LV,
    HOSPITAL,
    ITEM_CLASSES,
    NORMAL,
    Quantity,
    UnitPrice,
    Yuan,
    member_type_on,
)
from gongji.services.records import PHARMACY as PHARMACY_TYPE
from gongji.services.registrations import is_cross_region
from gongji.store.db import transaction
from gongji.store.ledger import (
    ACCOUNT,
    ACCOUNT_PAY,
    CHRONIC_PAY,
    INPATIENT_PAY,
    MULAID_PAY,
    OUTPATIENT_PAY,
    REVERSAL_SUFFIX,
    account_move,
    insert_ignoring,
    now,
    pool_in,
    pool_out,
    post,
)
from gongji.store.tables import (
    NATIONAL,
    accounts,
    accumulators,
    authorizations,
    catalogue,
    disease_accumulators,
    institutions,
    ledger,
    persons,
    settlement_lines,
    settlements,
    stays,
)
from gongji.store.tables import prescriptions as prescriptions_table

DEADLOCK = "40P01"
DEADLOCK_RETRIES = 3
MED_TYPES = {"11": CLINIC, "14": CLINIC, "41": PHARMACY}
"""med_type settled here: 11 普通门诊 and 14 门诊慢特病 at an institution, 41 定点药店购药 at a pharmacy."""
CHRONIC = "14"
CLR_TYPE = {CLINIC: "11", PHARMACY: "41"}


def _flag(value: object) -> bool:
    if value in ("1", 1, True):
        return True
    if value in ("0", 0, False):
        return False
    raise ValueError('must be "1" (use the account) or "0"')


class FeeLine(BaseModel):
    """A fee line: catalogue code, unit price (yuan, up to 4 decimals) and quantity; at a pharmacy the
    prescription it is bought on (rxno), at a med_type 14 visit the disease it treats (dise_codg)."""

    model_config = ConfigDict(extra="forbid")
    med_list_codg: str = Field(min_length=1, max_length=50)
    pric: UnitPrice
    cnt: Quantity
    rxno: str | None = Field(default=None, min_length=1, max_length=40)
    dise_codg: str | None = Field(default=None, min_length=1, max_length=30)


class SettleRequest(BaseModel):
    """One visit to settle, under the national platform's field names."""

    model_config = ConfigDict(extra="forbid")
    psn_no: str = Field(min_length=1, max_length=30)
    fixmedins_code: str = Field(pattern=r"^[HP]\d{11}$")
    date: date
    med_type: str = "11"
    acct_used_flag: Annotated[bool, BeforeValidator(_flag)] = True
    covered: Yuan | None = None
    lines: list[FeeLine] | None = Field(default=None, min_length=1)
    rxno: str | None = Field(default=None, min_length=1, max_length=40)
    """at a pharmacy: the prescription (外配处方) the drugs are bought on; lines may name it instead."""
    dise_codg: str | None = Field(default=None, min_length=1, max_length=30)
    """med_type 14: the chronic or special disease (opsp_dise_code) the visit treats."""
    key: str | None = Field(default=None, min_length=1, max_length=100)
    """idempotency key: the same key again returns the stored settlement."""
    mdtrt_id: str | None = Field(default=None, min_length=1, max_length=30)
    """the visit (就诊ID) registered before (2201); one settlement of it stands at a time. New if not given."""
    mdtrt_cert_type: str | None = Field(default=None, max_length=3)
    medins_setl_id: str | None = Field(default=None, max_length=40)
    """the institution's own id of the settlement (the request msgid at the interface)."""

    @model_validator(mode="after")
    def _consistent(self) -> SettleRequest:
        if self.med_type not in MED_TYPES:
            raise ValueError(f"med_type {self.med_type!r} is not settled here; gongji takes 11 (普通门诊), "
                             "14 (门诊慢特病) or 41 (定点药店购药)")
        if (self.covered is None) == (self.lines is None):
            raise ValueError("give either covered or lines")
        if (self.med_type == CHRONIC) != (self.dise_codg is not None):
            raise ValueError("dise_codg goes with med_type 14 (门诊慢特病), and med_type 14 needs it")
        if self.rxno is not None and self.med_type != "41":
            raise ValueError("rxno (外配处方) goes with med_type 41 at a pharmacy")
        for i, line in enumerate(self.lines or []):
            if line.dise_codg is not None and line.dise_codg != self.dise_codg:
                raise ValueError(f"lines[{i}].dise_codg {line.dise_codg!r} is not the visit's disease "
                                 f"{self.dise_codg!r}; one disease per settlement")
            if line.rxno is not None and self.med_type != "41":
                raise ValueError(f"lines[{i}].rxno: a prescription goes with med_type 41 at a pharmacy")
        rxnos = {line.rxno for line in self.lines or [] if line.rxno} | ({self.rxno} if self.rxno else set())
        if len(rxnos) > 1:
            raise ValueError(f"one prescription per settlement, got {sorted(rxnos)}")
        return self

    @property
    def prescription(self) -> str | None:
        return self.rxno or next((line.rxno for line in self.lines or [] if line.rxno), None)


def parse_settle(data: object) -> SettleRequest:
    try:
        return SettleRequest.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc)[0]) from None


class Settlement(NamedTuple):
    """A stored settlement (or its reversal) and the patient's account balance after it."""

    row: Mapping
    lines: list[Mapping]
    replayed: bool = False
    """the request's key had been settled before: nothing was moved this time."""


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24].upper()


class _Visit(NamedTuple):
    person: Mapping
    institution: Mapping
    version: Version
    member_type: str
    age: int
    setting: str
    level: int | None
    bill: BillSplit
    lines: list[dict]
    pool_covered: int
    """the covered amount ordinary pooling settles (0 when it settles nothing)."""
    disease: Disease | None
    chronic_covered: int
    """the covered amount the disease's benefit settles (0 when it settles nothing)."""
    ratio_cut: int
    notes: list[Note]
    """why some or all of the covered amount is not pooled, and other facts the settlement says (setl_proc_info)."""
    rxno: str | None
    """the prescription the pooled fund pays on, to be marked used (None when it pays on none)."""
    mdtrtarea_admvs: str
    registration_id: int | None


def _one(conn: Connection, stmt, params: dict, what: str, zh: str | None = None):
    found = conn.execute(stmt, params).mappings().first()
    if found is None:
        raise InputError(what, zh)
    return found


def payment_standard(item: Mapping) -> int | None:
    """The most the fund pays per unit (医保支付标准): a negotiated or centrally procured drug's payment standard;
    any other item's listing price on the platform (挂网价) or its payment standard, whichever is lower."""
    if item["hi_nego_drug_flag"] or item["vbp_flag"]:
        return item["pay_std"]
    given = [v for v in (item["pay_std"], item["pric_uplmt_amt"]) if v is not None]
    return min(given) if given else None


def catalogue_items(conn: Connection, codes: list[str], admdvs: str) -> dict[str, Mapping]:
    """The catalogue rows of `codes` in force in region `admdvs` (就医地目录): its own, its city's or province's,
    else the national row."""
    places = [*fallback_chain(admdvs), NATIONAL]
    rank = {place: i for i, place in enumerate(places)}
    items: dict[str, Mapping] = {}
    for r in conn.execute(_ITEMS, {"codes": codes, "places": places}).mappings():
        best = items.get(r["med_list_codg"])
        if best is None or rank[r["admdvs"]] < rank[best["admdvs"]]:
            items[r["med_list_codg"]] = r
    return items


def split_fee_lines(conn: Connection, fee_lines: list[FeeLine], person: Mapping, age: int, admdvs: str
                    ) -> tuple[BillSplit, list[dict]]:
    """The bill's four parts and each line's, by the catalogue of the treating region `admdvs` and the person's
    gender and age (限性别, 限年龄)."""
    items = catalogue_items(conn, sorted({line.med_list_codg for line in fee_lines}), admdvs)
    total, rows = BillSplit(0, 0, 0, 0, 0), []
    for i, line in enumerate(fee_lines):
        item = items.get(line.med_list_codg)
        if item is None:
            raise InputError(f"lines[{i}].med_list_codg: {line.med_list_codg!r} is not in the catalogue of {admdvs}",
                             f"第 {i + 1} 条费用明细 med_list_codg {line.med_list_codg!r} 不在医保目录中")
        item_class, memo = ITEM_CLASSES[item["chrgitm_lv"]], None
        if item["lmt_gend"] and item["lmt_gend"] != person["gend"]:
            item_class, memo = CLASS_C, "限性别: outside the item's gender limit, fully self-paid"
        elif (item["lmt_age_min"] is not None and age < item["lmt_age_min"]) or (
                item["lmt_age_max"] is not None and age > item["lmt_age_max"]):
            item_class, memo = CLASS_C, "限年龄: outside the item's age limit, fully self-paid"
        standard = payment_standard(item)
        part = split_line(LineItem(line.med_list_codg, item_class, line.pric, line.cnt, standard,
                                   item["selfpay_prop"]))
        total = total + part
        rows.append({"feedetl_sn": i + 1, "med_list_codg": line.med_list_codg, "pric": line.pric, "cnt": line.cnt,
                     "det_item_fee_sumamt": part.medfee_sumamt, "fulamt_ownpay_amt": part.fulamt_ownpay_amt,
                     "overlmt_amt": part.overlmt_selfpay, "preselfpay_amt": part.preselfpay_amt,
                     "inscp_scp_amt": part.inscp_scp_amt, "memo": memo, "pay_std": standard,
                     "selfpay_prop": item["selfpay_prop"] if item_class == CLASS_B else 0,
                     "chrgitm_lv": CHRGITM_LV[item_class], "list_type": item["list_type"],
                     "hi_nego_drug_flag": item["hi_nego_drug_flag"], "rxno": line.rxno, "dise_codg": line.dise_codg})
    return total, rows


_ITEMS = select(catalogue).where(catalogue.c.med_list_codg.in_(bindparam("codes", expanding=True)),
                                 catalogue.c.admdvs.in_(bindparam("places", expanding=True)))
# Statements of the hot path, built once: building SQLAlchemy expressions per visit costs more than running them.
_PERSON = select(persons).where(persons.c.psn_no == bindparam("psn_no"))
_INSTITUTION = select(institutions).where(institutions.c.fixmedins_code == bindparam("code"))
_VISIT_ROWS = select(persons, institutions, exists().where(
    stays.c.psn_no == persons.c.psn_no, stays.c.admitted_on <= bindparam("on"),
    or_(stays.c.discharged_on.is_(None), stays.c.discharged_on >= bindparam("on")))) \
    .select_from(persons.join(institutions, true())) \
    .where(persons.c.psn_no == bindparam("psn_no"), institutions.c.fixmedins_code == bindparam("code"))
"""The person, the institution and whether the person has an open stay on the day, in one round trip."""
_PERSON_NAMES, _INSTITUTION_NAMES = tuple(persons.c.keys()), tuple(institutions.c.keys())
_ACC_KEY = (accumulators.c.psn_no == bindparam("b_psn_no")) & (accumulators.c.year == bindparam("b_year"))
_ACC = select(accumulators.c.deductible, accumulators.c.pool, accumulators.c.covered,
              accumulators.c.inpatient, accumulators.c.inpatient_dedc).where(_ACC_KEY)
_ACC_LOCKED = _ACC.with_for_update()
_ACC_SET = update(accumulators).where(_ACC_KEY)
_DISEASE_KEY = (disease_accumulators.c.psn_no == bindparam("b_psn_no")) \
    & (disease_accumulators.c.year == bindparam("b_year")) & (disease_accumulators.c.dise_codg == bindparam("b_code"))
_DISEASE_ACC = select(disease_accumulators.c.deductible, disease_accumulators.c.pool,
                      disease_accumulators.c.covered).where(_DISEASE_KEY)
_DISEASE_ACC_LOCKED = _DISEASE_ACC.with_for_update()
_DISEASE_ACC_SET = update(disease_accumulators).where(_DISEASE_KEY)
_OWNERS = select(authorizations.c.owner_psn_no).where(
    authorizations.c.user_psn_no == bindparam("psn_no"), authorizations.c.revoked_at.is_(None)) \
    .order_by(authorizations.c.granted_at, authorizations.c.id)
_BALANCES = select(accounts.c.psn_no, accounts.c.balance).where(
    accounts.c.psn_no.in_(bindparam("payers", expanding=True)), accounts.c.closed_on.is_(None)) \
    .order_by(accounts.c.psn_no)
_BALANCES_LOCKED = _BALANCES.with_for_update()
_OWN_BALANCE = select(accounts.c.psn_no, accounts.c.balance).where(
    accounts.c.psn_no == bindparam("psn_no"), accounts.c.closed_on.is_(None))
_OWN_BALANCE_LOCKED = _OWN_BALANCE.with_for_update()
_KEY_SEEN = select(settlements.c.id).where(settlements.c.idem_key == bindparam("key"))
_INSERT_SETTLEMENT = insert(settlements)
_INSERT_LINES = insert(settlement_lines)
_LINE_COLUMNS = tuple(c for c in settlement_lines.c.keys() if c not in ("id", "setl_id"))


def _visit(conn: Connection, book: PolicyBook, req: SettleRequest) -> _Visit:
    found = conn.execute(_VISIT_ROWS, {"psn_no": req.psn_no, "code": req.fixmedins_code, "on": req.date}).first()
    if found is None:  # the person or the institution is missing: say which
        _one(conn, _PERSON, {"psn_no": req.psn_no}, f"psn_no: {req.psn_no!r} is not a registered person",
             f"psn_no {req.psn_no!r} 查无此人")
        _one(conn, _INSTITUTION, {"code": req.fixmedins_code},
             f"fixmedins_code: {req.fixmedins_code!r} is not a registered institution",
             f"fixmedins_code {req.fixmedins_code!r} 不是登记的定点医药机构")
    n = len(_PERSON_NAMES)
    person = dict(zip(_PERSON_NAMES, found[:n], strict=True))
    institution = dict(zip(_INSTITUTION_NAMES, found[n:-1], strict=True))
    in_hospital = bool(found[-1])
    if req.date < person["psn_insu_date"]:
        raise InputError(f"date: {req.date} is before the person was insured ({person['psn_insu_date']})",
                         f"就诊日期 {req.date} 早于参保日期 {person['psn_insu_date']}")
    if not institution["designated"]:
        raise InputError(f"fixmedins_code: {req.fixmedins_code} is not designated (非定点) and cannot settle",
                         f"fixmedins_code {req.fixmedins_code} 不是定点医药机构，不能结算")
    setting = MED_TYPES[req.med_type]
    wanted = HOSPITAL if setting == CLINIC else PHARMACY_TYPE
    if institution["fixmedins_type"] != wanted:
        raise InputError(f"med_type: {req.med_type} does not fit {req.fixmedins_code}, which is a "
                         + ("medical institution (use 11 or 14)" if wanted == PHARMACY_TYPE else "pharmacy (use 41)"),
                         f"med_type {req.med_type} 与机构 {req.fixmedins_code} 不符："
                         + ("医疗机构请用 11 或 14" if wanted == PHARMACY_TYPE else "定点药店请用 41"))
    insured = person["insuplc_admdvs"]
    try:
        version = book.policy_for(insured, req.date)
    except PolicyNotFound as exc:
        raise InputError(f"date: {exc}", f"就诊日期 {req.date}：参保地 {insured} 当日没有有效政策") from None
    age = age_on(person["brdy"], req.date)
    treating = institution["admdvs"]
    if req.lines is None:
        bill, lines = covered_only(req.covered), []
        chronic = bill.inscp_scp_amt if req.dise_codg else 0
    else:
        bill, lines = split_fee_lines(conn, req.lines, person, age, treating)
        chronic = sum(line["inscp_scp_amt"] for line in lines if line["dise_codg"])
    ordinary = bill.inscp_scp_amt - chronic
    disease = _disease(conn, version, req) if req.dise_codg else None
    notes: list[Note] = []
    blocked = _blocked(person, in_hospital)
    cut, registration_id = 0, None
    if blocked is None and is_cross_region(insured, treating):
        cut, registration_id, blocked = _cross_region(conn, version, req, insured, treating, notes)
    level, rxno = institution["hosp_lv"], None
    if version.outpatient is None:  # before the reform: chronic diseases only
        if ordinary:
            notes.append(Note("the region's policy on this date has no outpatient pooling",
                              "参保地当日政策没有普通门诊统筹"))
        ordinary = 0
    elif setting == PHARMACY:
        level, rxno, ordinary = _prescribed(conn, version, req, institution, lines, ordinary, notes)
    if blocked is not None:
        notes.insert(0, blocked)
        ordinary = chronic = 0
        rxno = None
    return _Visit(person, institution, version, member_type_on(person["psn_type"], person["retire_date"], req.date),
                  age, setting, level, bill, lines, ordinary, disease, chronic, cut, notes, rxno, treating,
                  registration_id)


def _blocked(person: Mapping, in_hospital: bool) -> Note | None:
    """Why no pooled fund pays anything of this visit, if so."""
    if person["psn_insu_stas"] != NORMAL:
        return Note(f"psn_insu_stas {person['psn_insu_stas']}: not in normal insured status, no pooled-fund payment",
                    f"参保状态 {person['psn_insu_stas']}（非正常参保），统筹基金不予支付")
    if in_hospital:
        return Note("在院期间: the member has an open inpatient stay, outpatient costs are not pooled",
                    "参保人住院期间发生的门诊费用，统筹基金不予支付")
    return None


def _disease(conn: Connection, version: Version, req: SettleRequest) -> Disease:
    disease = version.disease(req.dise_codg)
    if disease is None:
        raise InputError(f"dise_codg: {req.dise_codg!r} is not on the insured region's chronic and special disease "
                         f"list on {req.date}", f"dise_codg {req.dise_codg!r} 不在参保地门诊慢特病病种目录中")
    if qualifications.holding(conn, req.psn_no, req.dise_codg, req.date) is None:
        raise InputError(f"dise_codg: {req.psn_no} has no qualification (备案) for {req.dise_codg} on {req.date}",
                         f"参保人 {req.psn_no} 在 {req.date} 没有 {req.dise_codg} 的门诊慢特病备案，不能按慢特病结算")
    return disease


def _cross_region(conn: Connection, version: Version, req: SettleRequest, insured: str, treating: str,
                  notes: list[Note]) -> tuple[int, int | None, Note | None]:
    """(ratio cut, registration id, why nothing is pooled) for care outside the insured region."""
    registration = registrations.covering(conn, req.psn_no, treating, req.date)
    reason = registration["reason"] if registration is not None else None
    pooled, cut = version.cross_region_terms(reason)
    where = Note(f"异地就医 insured in {insured}, treated in {treating}",
                 f"异地就医（参保地 {insured}，就医地 {treating}）")
    if not pooled:
        return 0, None, Note(f"{where.en} without a registration (未备案): the insured region's policy pays no "
                             "pooled fund", f"{where.zh}未备案，按参保地政策统筹基金不予支付")
    if reason is not None:
        status = Note(f", registered ({reason})", f"已备案（{registrations.REASONS_ZH[reason]}）")
    else:
        status = Note(" without a registration (未备案)", "未备案")
    lower = Note(f": ratio {format_ratio(cut)} lower", f"，支付比例降低 {cut / 100:g} 个百分点") if cut \
        else Note("", "")
    notes.append(Note(where.en + status.en + lower.en, where.zh + status.zh + lower.zh))
    return cut, registration["id"] if registration is not None else None, None


def _prescribed(conn: Connection, version: Version, req: SettleRequest, pharmacy: Mapping, lines: list[dict],
                covered: int, notes: list[Note]) -> tuple[int | None, str | None, int]:
    """At a pharmacy: (the prescriber's level, the prescription to mark used, the covered amount the pooled fund
    pays on). Only drugs on a valid prescription are pooled; the rest goes to the account or cash."""
    rxno = req.prescription
    if lines:
        on_rx = [line for line in lines if line["rxno"] or req.rxno]
        covered = sum(line["inscp_scp_amt"] for line in on_rx)
        if len(on_rx) < len(lines):
            n = len(lines) - len(on_rx)
            notes.append(Note(f"{n} line(s) bought without a prescription: account or cash only",
                              f"{n} 条明细无外配处方，统筹基金不予支付"))
    else:
        on_rx = []
    if rxno is None:
        if not lines:
            notes.append(Note("no prescription from a designated institution (外配处方): account or cash only",
                              "无定点医疗机构外配处方，统筹基金不予支付（个人账户或现金支付）"))
        return None, None, 0
    max_days = version.outpatient.pharmacy.prescriptions.max_supply_days
    bought: dict[str, int] = {}
    for line in on_rx:
        bought[line["med_list_codg"]] = bought.get(line["med_list_codg"], 0) + line["cnt"]
    rx, why = prescriptions.check(conn, rxno, req.psn_no, req.date, bought, max_days)
    if why is None and not pharmacy["outpatient_pooled"]:
        why = Note("the pharmacy is not admitted to outpatient pooling: account or cash only",
                   "该定点药店未纳入门诊统筹，统筹基金不予支付")
    prescriber = _one(conn, _INSTITUTION, {"code": rx["fixmedins_code"]}, f"rxno: {rxno} names no institution")
    if why is None and not prescriber["designated"]:
        why = Note(f"the prescriber {rx['fixmedins_code']} is no longer designated: account or cash only",
                   f"开方机构 {rx['fixmedins_code']} 已非定点医疗机构，统筹基金不予支付")
    if why is not None:
        notes.append(why)
        return None, None, 0
    return prescriber["hosp_lv"], rxno, covered


def _accumulators(conn: Connection, psn_no: str, year: int, lock: bool) -> Accumulators:
    """The year's accumulators; with `lock`, the row is created if missing and locked until commit."""
    key = {"b_psn_no": psn_no, "b_year": year}
    found = conn.execute(_ACC_LOCKED if lock else _ACC, key).first()
    if found is None and lock:
        insert_ignoring(conn, accumulators, [{"psn_no": psn_no, "year": year}], ["psn_no", "year"])
        found = conn.execute(_ACC_LOCKED, key).first()
    return Accumulators(*found) if found else Accumulators()


def _disease_accumulators(conn: Connection, psn_no: str, year: int, code: str, lock: bool) -> Accumulators:
    """The year's accumulators of one disease, like `_accumulators`."""
    key = {"b_psn_no": psn_no, "b_year": year, "b_code": code}
    found = conn.execute(_DISEASE_ACC_LOCKED if lock else _DISEASE_ACC, key).first()
    if found is None and lock:
        insert_ignoring(conn, disease_accumulators, [{"psn_no": psn_no, "year": year, "dise_codg": code}],
                        ["psn_no", "year", "dise_codg"])
        found = conn.execute(_DISEASE_ACC_LOCKED, key).first()
    return Accumulators(*found) if found else Accumulators()


def _payers(conn: Connection, psn_no: str, lock: bool) -> list[tuple[str, int]]:
    """(psn_no, balance) of the accounts that may pay for the patient, in the order they pay: the patient's
    own, then those whose owners authorized the patient, earliest authorization first. Locked in psn_no order."""
    owners = conn.execute(_OWNERS, {"psn_no": psn_no}).scalars().all()
    order = [psn_no, *owners]
    if owners:
        balances = dict(conn.execute(_BALANCES_LOCKED if lock else _BALANCES, {"payers": order}).all())
    else:  # the usual case; an expanding IN (...) would be rendered anew at every visit
        balances = dict(conn.execute(_OWN_BALANCE_LOCKED if lock else _OWN_BALANCE, {"psn_no": psn_no}).all())
    return [(p, balances[p]) for p in order if p in balances]


def _account_parts(share: int, payers: list[tuple[str, int]], use: bool) -> list[tuple[str, int]]:
    parts, left = [], share if use else 0
    for psn_no, balance in payers:
        part = min(left, balance)
        if part > 0:
            parts.append((psn_no, part))
            left -= part
    return parts


class _Results(NamedTuple):
    ordinary: Adjudication
    chronic: Adjudication | None
    payers: list[tuple[str, int]]
    rx_used: str | None
    findings: list = []
    """the monitoring rules' findings on the visit (warnings: the queue records them with the settlement)."""


def _compute(conn: Connection, book: PolicyBook, req: SettleRequest, lock: bool) -> tuple[dict, list[dict], _Results]:
    visit = _visit(conn, book, req)
    year = req.date.year
    acc = _accumulators(conn, req.psn_no, year, lock)
    ordinary = adjudicate(terms_for(visit.version, visit.ratio_cut), visit.member_type, visit.age, visit.level,
                          visit.setting, visit.pool_covered, acc) if visit.pool_covered else \
        Adjudication(0, 0, 0, 0, 0, 0, 0, acc)
    chronic = None
    if visit.disease is not None:
        dacc = _disease_accumulators(conn, req.psn_no, year, visit.disease.code, lock)
        chronic = adjudicate(terms_for(visit.version, visit.ratio_cut, visit.disease), visit.member_type, visit.age,
                             visit.level, visit.setting, visit.chronic_covered, dacc)
    chronic_pay = chronic.hifp_pay if chronic else 0
    fund = ordinary.hifp_pay + ordinary.inpatient_pay + chronic_pay
    share = visit.bill.medfee_sumamt - fund
    payers = _payers(conn, req.psn_no, lock)
    parts = _account_parts(share, payers, req.acct_used_flag)
    acct_pay = sum(amount for _p, amount in parts)
    mulaid = sum(amount for p, amount in parts if p != req.psn_no)
    own_before = next((balance for p, balance in payers if p == req.psn_no), 0)
    own_paid = next((amount for p, amount in parts if p == req.psn_no), 0)
    p = visit.person
    if req.mdtrt_id is not None:
        not_settled(conn, req.mdtrt_id)
    notes, notes_zh = joined(visit.notes)
    row = {
        "setl_id": _new_id("S"), "mdtrt_id": req.mdtrt_id or _new_id("M"), "idem_key": req.key, "psn_no": req.psn_no,
        "fixmedins_code": req.fixmedins_code, "prescriber_code": None, "setl_date": req.date,
        "setl_time": now(), "med_type": req.med_type, "insuplc_admdvs": p["insuplc_admdvs"],
        "member_type": visit.member_type, "age": visit.age, "level": visit.level, "setting": visit.setting,
        "pooled": visit.pool_covered > 0, "no_pool_reason": notes, "proc_info_zh": notes_zh,
        "acct_used_flag": req.acct_used_flag, **visit.bill._asdict(), "act_pay_dedc": ordinary.act_pay_dedc,
        "hifp_pay": ordinary.hifp_pay, "pool_prop": ordinary.pool_prop, "over_cap_amt": ordinary.over_cap_amt,
        "inpatient_pay": ordinary.inpatient_pay, "psn_part_amt": share, "acct_pay": acct_pay,
        "acct_mulaid_pay": mulaid, "psn_cash_pay": share - acct_pay, "balc": own_before - own_paid,
        "reverses": None, "reversed_by": None, "mdtrt_cert_type": req.mdtrt_cert_type,
        "medins_setl_id": req.medins_setl_id, "pool_covered": visit.pool_covered, "ratio_cut": visit.ratio_cut,
        "dise_codg": req.dise_codg, "chronic_covered": visit.chronic_covered,
        "chronic_dedc": chronic.act_pay_dedc if chronic else 0, "chronic_pay": chronic_pay,
        "chronic_prop": chronic.pool_prop if chronic else 0, "rxno": req.prescription,
        "mdtrtarea_admvs": visit.mdtrtarea_admvs, "registration_id": visit.registration_id,
    }
    if row["rxno"]:
        row["prescriber_code"] = conn.execute(select(prescriptions_table.c.fixmedins_code)
                                              .where(prescriptions_table.c.rxno == row["rxno"])).scalar()
    claim = monitor_online.claim_of(conn, row, visit.lines, p, parts)
    findings = monitor_online.check(conn, visit.version, claim,
                                    {line["med_list_codg"]: line["list_type"] for line in visit.lines})
    refused = monitor_online.refusal(visit.version, findings)
    if refused is not None:
        raise refused
    if findings:
        row["no_pool_reason"], row["proc_info_zh"] = joined(visit.notes + monitor_online.notes(findings))
    return row, visit.lines, _Results(ordinary, chronic, parts, visit.rxno, findings)


_STANDING = select(settlements.c.setl_id).where(
    settlements.c.mdtrt_id == bindparam("mdtrt_id"), settlements.c.reverses.is_(None),
    settlements.c.reversed_by.is_(None))


def standing_settlement(conn: Connection, mdtrt_id: str) -> str | None:
    """The setl_id of the visit's settlement that stands (neither reversed nor a reversal), if any."""
    return conn.execute(_STANDING, {"mdtrt_id": mdtrt_id}).scalar()


def not_settled(conn: Connection, mdtrt_id: str) -> None:
    found = standing_settlement(conn, mdtrt_id)
    if found is not None:
        raise InputError(f"mdtrt_id: {mdtrt_id} is already settled (setl_id {found}); reverse it first",
                         f"就诊 mdtrt_id {mdtrt_id} 已结算（setl_id {found}），不能重复结算；如需重新结算请先撤销")


def pre_settle(engine: Engine, book: PolicyBook, req: SettleRequest) -> Settlement:
    """What settling would give now; nothing is stored or locked."""
    with engine.connect() as conn:
        row, lines, _ = _compute(conn, book, req, lock=False)
        conn.rollback()
    return Settlement(row | {"setl_id": None}, lines)


def _stored(conn: Connection, where) -> Settlement | None:
    row = conn.execute(select(settlements).where(where)).mappings().first()
    if row is None:
        return None
    lines = conn.execute(select(settlement_lines).where(settlement_lines.c.setl_id == row["setl_id"])
                         .order_by(settlement_lines.c.feedetl_sn)).mappings().all()
    return Settlement(row, list(lines))


def _replayed(conn: Connection, key: str, asked: str, answered: Callable[[Mapping], bool]) -> Settlement:
    """The stored answer to a key seen before, when it answered the same request (`answered` says whether the
    stored row does); a key used for another request is refused."""
    found = _stored(conn, settlements.c.idem_key == key)
    if found is None:
        raise InputError(f"key: {key!r} could not be settled")
    if not answered(found.row):
        raise InputError(f"key: {key!r} was already used for another request (setl_id {found.row['setl_id']}, "
                         f"psn_no {found.row['psn_no']}), not for {asked}")
    return found._replace(replayed=True)


Also = Callable[[Connection, dict, list[dict]], None]
"""More work the caller does inside a settlement's or reversal's own transaction, given its row and lines."""


def settle(engine: Engine, book: PolicyBook, req: SettleRequest, also: Also | None = None) -> Settlement:
    """Settle the visit in one transaction; with a key seen before, return that settlement unchanged."""
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            with transaction(engine) as conn:
                if req.key is not None and conn.execute(_KEY_SEEN, {"key": req.key}).first():
                    seen = True
                else:
                    seen = False
                    row, lines, results = _compute(conn, book, req, lock=True)
                    _write(conn, row, lines, results)
                    monitor_online.record(conn, row["setl_id"], results.findings)
                    if also is not None:
                        also(conn, row, lines)
        except IntegrityError:
            # A concurrent request with the same key, or for the same visit, committed first.
            if req.mdtrt_id is not None:
                with engine.connect() as conn:
                    if req.key is None or not conn.execute(_KEY_SEEN, {"key": req.key}).first():
                        not_settled(conn, req.mdtrt_id)
            if req.key is None:
                raise
            seen = True
        except OperationalError as exc:
            # PostgreSQL breaks a rare lock cycle (a settlement and a crediting run over the same family
            # accounts) by aborting one side; the settlement is simply tried again.
            if getattr(exc.orig, "sqlstate", None) != DEADLOCK or attempt == DEADLOCK_RETRIES:
                raise
            continue
        if seen:
            with engine.connect() as conn:
                return _replayed(conn, req.key, f"a settlement of psn_no {req.psn_no}",
                                 lambda row: row["reverses"] is None and row["psn_no"] == req.psn_no)
        return Settlement(row, [line | {"setl_id": row["setl_id"]} for line in lines])
    raise AssertionError("unreachable")


def _write(conn: Connection, row: dict, lines: list[dict], results: _Results) -> None:
    setl_id, psn_no, on = row["setl_id"], row["psn_no"], row["setl_date"]
    conn.execute(_INSERT_SETTLEMENT, row)
    if lines:
        conn.execute(_INSERT_LINES, [{k: line[k] for k in _LINE_COLUMNS} | {"setl_id": setl_id} for line in lines])
    conn.execute(_ACC_SET, {"b_psn_no": psn_no, "b_year": on.year, **results.ordinary.accumulators._asdict()})
    if results.chronic is not None:
        dacc = results.chronic.accumulators
        conn.execute(_DISEASE_ACC_SET, {"b_psn_no": psn_no, "b_year": on.year, "b_code": row["dise_codg"],
                                        "deductible": dacc.deductible, "pool": dacc.pool, "covered": dacc.covered})
    if results.rx_used:
        prescriptions.use(conn, results.rx_used, setl_id)
    journal: list[dict] = []
    for payer, amount in results.payers:
        kind = ACCOUNT_PAY if payer == psn_no else MULAID_PAY
        account_move(conn, payer, -amount, kind, on, journal, psn_no=psn_no, setl_id=setl_id,
                     memo=f"{row['fixmedins_code']} {row['med_type']}")
    pool_out(conn, row["insuplc_admdvs"], [(OUTPATIENT_PAY, row["hifp_pay"]), (INPATIENT_PAY, row["inpatient_pay"]),
                                           (CHRONIC_PAY, row["chronic_pay"])],
             on, key=psn_no, journal=journal, psn_no=psn_no, setl_id=setl_id)
    post(conn, journal)


AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
           "act_pay_dedc", "hifp_pay", "over_cap_amt", "inpatient_pay", "psn_part_amt", "acct_pay",
           "acct_mulaid_pay", "psn_cash_pay", "pool_covered", "chronic_covered", "chronic_dedc", "chronic_pay")


def reverse(engine: Engine, book: PolicyBook, setl_id: str, fixmedins_code: str, key: str | None = None,
            also: Also | None = None) -> Settlement:
    """Undo settlement `setl_id` for the institution that made it: money back where it came from, the year's
    accumulators replayed without it. Returns the reversal (negated amounts, the restored balance). With a `key`
    seen before for this reversal, returns the stored reversal and moves nothing."""
    def replayed(conn: Connection) -> Settlement:
        return _replayed(conn, key, f"the reversal of {setl_id}", lambda row: row["reverses"] == setl_id)

    try:
        with transaction(engine) as conn:
            if key is not None and conn.execute(_KEY_SEEN, {"key": key}).first():
                return replayed(conn)
            row = _reverse(conn, book, setl_id, fixmedins_code, key)
            if also is not None:
                also(conn, row, [])
    except IntegrityError:
        if key is None:
            raise
        with engine.connect() as conn:
            return replayed(conn)
    return Settlement(row, [])


def _reverse(conn: Connection, book: PolicyBook, setl_id: str, fixmedins_code: str, key: str | None) -> dict:
    original = conn.execute(select(settlements).where(settlements.c.setl_id == setl_id)).mappings().first()
    if original is None:
        raise InputError(f"setl_id: {setl_id!r} is not a settlement", f"setl_id {setl_id!r} 不存在：没有这笔结算")
    if original["fixmedins_code"] != fixmedins_code:
        # Said the same way as a missing one: an institution learns nothing of another's settlements.
        raise InputError(f"setl_id: {setl_id} was settled by another institution, not {fixmedins_code}",
                         f"setl_id {setl_id!r} 不存在：没有这笔结算")
    if original["reverses"] is not None:
        raise InputError(f"setl_id: {setl_id} is itself a reversal (of {original['reverses']})",
                         f"setl_id {setl_id} 是一笔撤销（撤销的是 {original['reverses']}），不能再撤销")
    psn_no, year = original["psn_no"], original["setl_date"].year
    _accumulators(conn, psn_no, year, lock=True)
    locked = conn.execute(select(settlements.c.reversed_by).where(settlements.c.setl_id == setl_id)
                          .with_for_update()).scalar_one()
    if locked is not None:
        raise InputError(f"setl_id: {setl_id} was already reversed (by {locked})",
                         f"setl_id {setl_id} 已撤销（撤销流水 {locked}），不能重复撤销")
    reversal_id = _new_id("R")
    moves = conn.execute(select(ledger.c.fund, ledger.c.holder, ledger.c.kind, func.sum(ledger.c.amount))
                         .where(ledger.c.setl_id == setl_id)
                         .group_by(ledger.c.fund, ledger.c.holder, ledger.c.kind)
                         .order_by(ledger.c.fund, ledger.c.holder)).all()
    on = original["setl_date"]
    for fund, holder, kind, amount in moves:
        refs = {"psn_no": psn_no, "setl_id": reversal_id, "memo": f"reversal of {setl_id}"}
        if fund == ACCOUNT:
            account_move(conn, holder, -int(amount), kind + REVERSAL_SUFFIX, on, **refs)
        elif amount < 0:
            pool_in(conn, holder, -int(amount), kind + REVERSAL_SUFFIX, on, **refs)
        elif amount > 0:
            # money the institution returned (a claw-back, 追回): the cancelled settlement owes it nothing more
            pool_out(conn, holder, [(kind + REVERSAL_SUFFIX, int(amount))], on, key=psn_no, **refs)
    balance = conn.execute(select(accounts.c.balance).where(accounts.c.psn_no == psn_no)).scalar_one_or_none()
    row = dict(original) | {a: -original[a] for a in AMOUNTS} | {
        "setl_id": reversal_id, "mdtrt_id": original["mdtrt_id"], "idem_key": key, "setl_time": now(),
        "reverses": setl_id, "reversed_by": None, "balc": balance or 0}
    row.pop("id")
    conn.execute(insert(settlements).values(**row))
    conn.execute(update(settlements).where(settlements.c.setl_id == setl_id).values(reversed_by=reversal_id))
    prescriptions.release(conn, setl_id)
    _replay_year(conn, book, psn_no, year)
    return row


def _replay_year(conn: Connection, book: PolicyBook, psn_no: str, year: int) -> None:
    """The year's accumulators, ordinary and of each disease, recomputed from the settlements that stand, in
    the order they were made."""
    standing = conn.execute(select(settlements).where(
        settlements.c.psn_no == psn_no, or_(settlements.c.pool_covered > 0, settlements.c.chronic_covered > 0),
        settlements.c.reverses.is_(None), settlements.c.reversed_by.is_(None),
        and_(settlements.c.setl_date >= date(year, 1, 1), settlements.c.setl_date <= date(year, 12, 31)))
        .order_by(settlements.c.id)).mappings().all()
    acc = Accumulators()
    diseases: dict[str, Accumulators] = {
        code: Accumulators() for code in conn.execute(select(disease_accumulators.c.dise_codg).where(
            disease_accumulators.c.psn_no == psn_no, disease_accumulators.c.year == year)).scalars()}
    for s in standing:
        version = book.policy_for(s["insuplc_admdvs"], s["setl_date"])
        who = (s["member_type"], s["age"], s["level"], s["setting"])
        if s["pool_covered"]:
            acc = adjudicate(terms_for(version, s["ratio_cut"]), *who, s["pool_covered"], acc).accumulators
        if s["chronic_covered"]:
            code = s["dise_codg"]
            terms = terms_for(version, s["ratio_cut"], version.disease(code))
            diseases[code] = adjudicate(terms, *who, s["chronic_covered"], diseases.get(code, Accumulators())
                                        ).accumulators
    # the cap room claw-backs gave back stays given
    pool, inpatient, disease_pools = monitor_queue.restored_cap_room(conn, psn_no, year)
    acc = acc._replace(pool=max(acc.pool - pool, 0), inpatient=max(acc.inpatient - inpatient, 0))
    conn.execute(update(accumulators).where(accumulators.c.psn_no == psn_no, accumulators.c.year == year)
                 .values(**acc._asdict()))
    for code, dacc in diseases.items():
        conn.execute(update(disease_accumulators).where(
            disease_accumulators.c.psn_no == psn_no, disease_accumulators.c.year == year,
            disease_accumulators.c.dise_codg == code).values(
                deductible=dacc.deductible, pool=max(dacc.pool - disease_pools.get(code, 0), 0),
                covered=dacc.covered))


MONEY_FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                "act_pay_dedc", "hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay",
                "oth_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay",
                "hosp_part_amt", "balc", "inpatient_pay", "over_cap_amt", "chronic_pay")
"""setlinfo's amounts, in fen; `inpatient_pay`, `over_cap_amt` and `chronic_pay` are gongji's own (see
`setlinfo`)."""


def setlinfo(s: Settlement) -> dict[str, object]:
    """The settlement under the national platform's `setlinfo` names, amounts in fen, ratio in basis points.

    hifp_pay is everything the pooled fund (310100) pays: ordinary outpatient pooling, plus `inpatient_pay` where
    the policy sends cost above the cap to the inpatient benefit, plus `chronic_pay` under a chronic or special
    disease's benefit (med_type 14). act_pay_dedc likewise adds both deductibles. So medfee_sumamt =
    fund_pay_sumamt + psn_part_amt + hosp_part_amt and psn_part_amt = acct_pay + psn_cash_pay hold exactly."""
    r = s.row
    fund = r["hifp_pay"] + r["inpatient_pay"] + r["chronic_pay"]
    return {
        "setl_id": r["setl_id"], "mdtrt_id": r["mdtrt_id"], "psn_no": r["psn_no"],
        "insutype": "310", "psn_type": "12" if r["member_type"] == "retired" else "11", "age": r["age"],
        "setl_time": r["setl_time"].isoformat(sep=" "), "setl_date": r["setl_date"].isoformat(),
        "med_type": r["med_type"], "fixmedins_code": r["fixmedins_code"], "hosp_lv": r["level"],
        "medfee_sumamt": r["medfee_sumamt"], "fulamt_ownpay_amt": r["fulamt_ownpay_amt"],
        "overlmt_selfpay": r["overlmt_selfpay"], "preselfpay_amt": r["preselfpay_amt"],
        "inscp_scp_amt": r["inscp_scp_amt"], "act_pay_dedc": r["act_pay_dedc"] + r["chronic_dedc"], "hifp_pay": fund,
        "pool_prop_selfpay": r["pool_prop"], "cvlserv_pay": 0, "hifes_pay": 0, "hifmi_pay": 0, "hifob_pay": 0,
        "maf_pay": 0, "oth_pay": 0, "fund_pay_sumamt": fund, "psn_part_amt": r["psn_part_amt"],
        "acct_pay": r["acct_pay"], "acct_mulaid_pay": r["acct_mulaid_pay"], "psn_cash_pay": r["psn_cash_pay"],
        "hosp_part_amt": 0, "balc": r["balc"], "inpatient_pay": r["inpatient_pay"],
        "over_cap_amt": r["over_cap_amt"], "chronic_pay": r["chronic_pay"], "dise_codg": r["dise_codg"],
        "rxno": r["rxno"], "mdtrtarea_admvs": r["mdtrtarea_admvs"], "clr_optins": r["insuplc_admdvs"], "clr_way": "1",
        "clr_type": CLR_TYPE[r["setting"]], "setl_proc_info": r["no_pool_reason"],
        "reverses": r["reverses"], "reversed_by": r["reversed_by"],
    }
