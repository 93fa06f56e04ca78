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
from gongji.engine.terms import OutpatientTerms, compile_terms
from gongji.errors import InputError, describe
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.policy.schema import Version
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
from gongji.store.db import transaction
from gongji.store.ledger import (
    ACCOUNT,
    ACCOUNT_PAY,
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
    accounts,
    accumulators,
    authorizations,
    catalogue,
    institutions,
    ledger,
    persons,
    settlement_lines,
    settlements,
    stays,
)

DEADLOCK = "40P01"
DEADLOCK_RETRIES = 3
MED_TYPES = {"11": CLINIC, "41": PHARMACY}
"""med_type settled under ordinary outpatient pooling: 11 普通门诊 at an institution, 41 定点药店购药."""
CLR_TYPE = {CLINIC: "11", PHARMACY: "41"}


def _flag(value: object) -> bool:
    if value in ("1", 1, True):
        return True
    if value in ("0", 0, False):
        return False
    raise ValueError('must be "1" (use the account) or "0"')


class FeeLine(BaseModel):
    """A fee line: catalogue code, unit price (yuan, up to 4 decimals) and quantity."""

    model_config = ConfigDict(extra="forbid")
    med_list_codg: str = Field(min_length=1, max_length=50)
    pric: UnitPrice
    cnt: Quantity


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
    prescriber: str | None = Field(default=None, pattern=r"^H\d{11}$")
    """at a pharmacy: the designated institution whose prescription (外配处方) the drugs come on."""
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
            raise ValueError(f"med_type {self.med_type!r} is not settled here; ordinary outpatient pooling takes "
                             "11 (普通门诊) or 41 (定点药店购药)")
        if (self.covered is None) == (self.lines is None):
            raise ValueError("give either covered or lines")
        return self


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
    no_pool_reason: str | None


def _one(conn: Connection, stmt, params: dict, what: str, zh: str | None = None):
    found = conn.execute(stmt, params).mappings().first()
    if found is None:
        raise InputError(what, zh)
    return found


def split_fee_lines(conn: Connection, fee_lines: list[FeeLine], person: Mapping, age: int
                    ) -> tuple[BillSplit, list[dict]]:
    """The bill's four parts and each line's, by the catalogue and the person's gender and age (限性别, 限年龄)."""
    codes = sorted({line.med_list_codg for line in fee_lines})
    items = {r["med_list_codg"]: r for r in conn.execute(_ITEMS, {"codes": codes}).mappings()}
    total, rows = BillSplit(0, 0, 0, 0, 0), []
    for i, line in enumerate(fee_lines):
        item = items.get(line.med_list_codg)
        if item is None:
            raise InputError(f"lines[{i}].med_list_codg: {line.med_list_codg!r} is not in the catalogue",
                             f"第 {i + 1} 条费用明细 med_list_codg {line.med_list_codg!r} 不在医保目录中")
        item_class, memo = ITEM_CLASSES[item["chrgitm_lv"]], None
        if item["lmt_gend"] and item["lmt_gend"] != person["gend"]:
            item_class, memo = CLASS_C, "限性别: outside the item's gender limit, fully self-paid"
        elif (item["lmt_age_min"] is not None and age < item["lmt_age_min"]) or (
                item["lmt_age_max"] is not None and age > item["lmt_age_max"]):
            item_class, memo = CLASS_C, "限年龄: outside the item's age limit, fully self-paid"
        part = split_line(LineItem(line.med_list_codg, item_class, line.pric, line.cnt, item["pay_std"],
                                   item["selfpay_prop"]))
        total = total + part
        rows.append({"feedetl_sn": i + 1, "med_list_codg": line.med_list_codg, "pric": line.pric, "cnt": line.cnt,
                     "det_item_fee_sumamt": part.medfee_sumamt, "fulamt_ownpay_amt": part.fulamt_ownpay_amt,
                     "overlmt_amt": part.overlmt_selfpay, "preselfpay_amt": part.preselfpay_amt,
                     "inscp_scp_amt": part.inscp_scp_amt, "memo": memo, "pay_std": item["pay_std"],
                     "selfpay_prop": item["selfpay_prop"] if item_class == CLASS_B else 0,
                     "chrgitm_lv": CHRGITM_LV[item_class], "list_type": item["list_type"]})
    return total, rows


_ITEMS = select(catalogue).where(catalogue.c.med_list_codg.in_(bindparam("codes", expanding=True)))
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
              accumulators.c.inpatient).where(_ACC_KEY)
_ACC_LOCKED = _ACC.with_for_update()
_ACC_SET = update(accumulators).where(_ACC_KEY)
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
                         + ("medical institution (use 11)" if wanted == PHARMACY_TYPE else "pharmacy (use 41)"),
                         f"med_type {req.med_type} 与机构 {req.fixmedins_code} 不符："
                         + ("医疗机构请用 11" if wanted == PHARMACY_TYPE else "定点药店请用 41"))
    try:
        version = book.policy_for(person["insuplc_admdvs"], req.date)
    except PolicyNotFound as exc:
        raise InputError(f"date: {exc}", f"就诊日期 {req.date}：参保地 {person['insuplc_admdvs']} 当日没有有效政策")\
            from None
    age = age_on(person["brdy"], req.date)
    if req.lines is None:
        bill, lines = covered_only(req.covered), []
    else:
        bill, lines = split_fee_lines(conn, req.lines, person, age)
    level, reason = institution["hosp_lv"], None
    if setting == PHARMACY:
        level, reason = _prescriber_level(conn, req, institution)
    if person["psn_insu_stas"] != NORMAL:
        reason = f"psn_insu_stas {person['psn_insu_stas']}: not in normal insured status, no pooled-fund payment"
    elif version.outpatient is None:
        reason = "the region's policy on this date has no outpatient pooling"
    elif in_hospital:
        reason = "在院期间: the member has an open inpatient stay, outpatient costs are not pooled"
    return _Visit(person, institution, version, member_type_on(person["psn_type"], person["retire_date"], req.date),
                  age, setting, level, bill, lines, reason)


def _prescriber_level(conn: Connection, req: SettleRequest, pharmacy: Mapping) -> tuple[int | None, str | None]:
    if not pharmacy["outpatient_pooled"]:
        return None, "the pharmacy is not admitted to outpatient pooling: account or cash only"
    if req.prescriber is None:
        return None, "no prescription from a designated institution (外配处方): account or cash only"
    prescriber = _one(conn, _INSTITUTION, {"code": req.prescriber},
                      f"prescriber: {req.prescriber!r} is not a registered institution")
    if not prescriber["designated"]:
        return None, f"the prescriber {req.prescriber} is not designated: account or cash only"
    return prescriber["hosp_lv"], None


def _accumulators(conn: Connection, psn_no: str, year: int, lock: bool) -> Accumulators:
    """The year's accumulators; with `lock`, the row is created if missing and locked until commit."""
    key = {"b_psn_no": psn_no, "b_year": year}
    found = conn.execute(_ACC_LOCKED if lock else _ACC, key).first()
    if found is None and lock:
        insert_ignoring(conn, accumulators, [{"psn_no": psn_no, "year": year}], ["psn_no", "year"])
        found = conn.execute(_ACC_LOCKED, key).first()
    return Accumulators(*found) if found else Accumulators()


_compiled: dict[int, tuple[Version, OutpatientTerms]] = {}


def terms_of(version: Version) -> OutpatientTerms:
    """A version's compiled terms, once per process (the version is kept so its id stays its own)."""
    found = _compiled.get(id(version))
    if found is None:
        found = _compiled[id(version)] = (version, compile_terms(version))
    return found[1]


def _adjudicate(visit: _Visit, acc: Accumulators) -> Adjudication:
    covered = visit.bill.inscp_scp_amt
    if visit.no_pool_reason is not None:
        return Adjudication(covered, 0, 0, 0, 0, 0, covered, acc)
    return adjudicate(terms_of(visit.version), visit.member_type, visit.age, visit.level, visit.setting,
                      covered, acc)


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


def _compute(conn: Connection, book: PolicyBook, req: SettleRequest, lock: bool) -> tuple[dict, list[dict], list]:
    visit = _visit(conn, book, req)
    acc = _accumulators(conn, req.psn_no, req.date.year, lock)
    result = _adjudicate(visit, acc)
    fund = result.hifp_pay + result.inpatient_pay
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
    row = {
        "setl_id": _new_id("S"), "mdtrt_id": req.mdtrt_id or _new_id("M"), "idem_key": req.key, "psn_no": req.psn_no,
        "fixmedins_code": req.fixmedins_code, "prescriber_code": req.prescriber, "setl_date": req.date,
        "setl_time": now(), "med_type": req.med_type, "insuplc_admdvs": p["insuplc_admdvs"],
        "member_type": visit.member_type, "age": visit.age, "level": visit.level, "setting": visit.setting,
        "pooled": visit.no_pool_reason is None, "no_pool_reason": visit.no_pool_reason,
        "acct_used_flag": req.acct_used_flag, **visit.bill._asdict(), "act_pay_dedc": result.act_pay_dedc,
        "hifp_pay": result.hifp_pay, "pool_prop": result.pool_prop, "over_cap_amt": result.over_cap_amt,
        "inpatient_pay": result.inpatient_pay, "psn_part_amt": share, "acct_pay": acct_pay,
        "acct_mulaid_pay": mulaid, "psn_cash_pay": share - acct_pay, "balc": own_before - own_paid,
        "reverses": None, "reversed_by": None, "mdtrt_cert_type": req.mdtrt_cert_type,
        "medins_setl_id": req.medins_setl_id,
    }
    return row, visit.lines, [parts, result.accumulators]


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
                    row, lines, (parts, acc) = _compute(conn, book, req, lock=True)
                    _write(conn, row, lines, parts, acc)
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


def _write(conn: Connection, row: dict, lines: list[dict], parts: list[tuple[str, int]], acc: Accumulators) -> None:
    setl_id, psn_no, on = row["setl_id"], row["psn_no"], row["setl_date"]
    conn.execute(_INSERT_SETTLEMENT, row)
    if lines:
        conn.execute(_INSERT_LINES, [{k: line[k] for k in _LINE_COLUMNS} | {"setl_id": setl_id} for line in lines])
    conn.execute(_ACC_SET, {"b_psn_no": psn_no, "b_year": on.year, **acc._asdict()})
    journal: list[dict] = []
    for payer, amount in parts:
        kind = ACCOUNT_PAY if payer == psn_no else MULAID_PAY
        account_move(conn, payer, -amount, kind, on, journal, psn_no=psn_no, setl_id=setl_id,
                     memo=f"{row['fixmedins_code']} {row['med_type']}")
    pool_out(conn, row["insuplc_admdvs"], [(OUTPATIENT_PAY, row["hifp_pay"]), (INPATIENT_PAY, row["inpatient_pay"])],
             on, key=psn_no, journal=journal, psn_no=psn_no, setl_id=setl_id)
    post(conn, journal)


AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
           "act_pay_dedc", "hifp_pay", "over_cap_amt", "inpatient_pay", "psn_part_amt", "acct_pay",
           "acct_mulaid_pay", "psn_cash_pay")


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
        else:
            pool_in(conn, holder, -int(amount), kind + REVERSAL_SUFFIX, on, **refs)
    balance = conn.execute(select(accounts.c.balance).where(accounts.c.psn_no == psn_no)).scalar_one_or_none()
    row = dict(original) | {a: -original[a] for a in AMOUNTS} | {
        "setl_id": reversal_id, "mdtrt_id": original["mdtrt_id"], "idem_key": key, "setl_time": now(),
        "reverses": setl_id, "reversed_by": None, "balc": balance or 0}
    row.pop("id")
    conn.execute(insert(settlements).values(**row))
    conn.execute(update(settlements).where(settlements.c.setl_id == setl_id).values(reversed_by=reversal_id))
    _replay_year(conn, book, psn_no, year)
    return row


def _replay_year(conn: Connection, book: PolicyBook, psn_no: str, year: int) -> None:
    """The year's accumulators recomputed from the pooled settlements that stand, in the order they were made."""
    standing = conn.execute(select(settlements).where(
        settlements.c.psn_no == psn_no, settlements.c.pooled.is_(True), settlements.c.reverses.is_(None),
        settlements.c.reversed_by.is_(None),
        and_(settlements.c.setl_date >= date(year, 1, 1), settlements.c.setl_date <= date(year, 12, 31)))
        .order_by(settlements.c.id)).mappings().all()
    acc = Accumulators()
    for s in standing:
        terms = terms_of(book.policy_for(s["insuplc_admdvs"], s["setl_date"]))
        acc = adjudicate(terms, s["member_type"], s["age"], s["level"], s["setting"], s["inscp_scp_amt"],
                         acc).accumulators
    conn.execute(update(accumulators).where(accumulators.c.psn_no == psn_no, accumulators.c.year == year)
                 .values(**acc._asdict()))


MONEY_FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                "act_pay_dedc", "hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay",
                "oth_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay",
                "hosp_part_amt", "balc", "inpatient_pay", "over_cap_amt")
"""setlinfo's amounts, in fen; `inpatient_pay` and `over_cap_amt` are gongji's own (see `setlinfo`)."""


def setlinfo(s: Settlement) -> dict[str, object]:
    """The settlement under the national platform's `setlinfo` names, amounts in fen, ratio in basis points.

    hifp_pay is everything the pooled fund (310100) pays: ordinary outpatient pooling plus, where the policy
    sends cost above the cap to the inpatient benefit, `inpatient_pay`. So medfee_sumamt = fund_pay_sumamt +
    psn_part_amt + hosp_part_amt and psn_part_amt = acct_pay + psn_cash_pay hold exactly."""
    r = s.row
    fund = r["hifp_pay"] + r["inpatient_pay"]
    return {
        "setl_id": r["setl_id"], "mdtrt_id": r["mdtrt_id"], "psn_no": r["psn_no"],
        "insutype": "310", "psn_type": "12" if r["member_type"] == "retired" else "11", "age": r["age"],
        "setl_time": r["setl_time"].isoformat(sep=" "), "setl_date": r["setl_date"].isoformat(),
        "med_type": r["med_type"], "fixmedins_code": r["fixmedins_code"], "hosp_lv": r["level"],
        "medfee_sumamt": r["medfee_sumamt"], "fulamt_ownpay_amt": r["fulamt_ownpay_amt"],
        "overlmt_selfpay": r["overlmt_selfpay"], "preselfpay_amt": r["preselfpay_amt"],
        "inscp_scp_amt": r["inscp_scp_amt"], "act_pay_dedc": r["act_pay_dedc"], "hifp_pay": fund,
        "pool_prop_selfpay": r["pool_prop"], "cvlserv_pay": 0, "hifes_pay": 0, "hifmi_pay": 0, "hifob_pay": 0,
        "maf_pay": 0, "oth_pay": 0, "fund_pay_sumamt": fund, "psn_part_amt": r["psn_part_amt"],
        "acct_pay": r["acct_pay"], "acct_mulaid_pay": r["acct_mulaid_pay"], "psn_cash_pay": r["psn_cash_pay"],
        "hosp_part_amt": 0, "balc": r["balc"], "inpatient_pay": r["inpatient_pay"],
        "over_cap_amt": r["over_cap_amt"], "clr_optins": r["insuplc_admdvs"], "clr_way": "1",
        "clr_type": CLR_TYPE[r["setting"]], "setl_proc_info": r["no_pool_reason"],
        "reverses": r["reverses"], "reversed_by": r["reversed_by"],
    }
