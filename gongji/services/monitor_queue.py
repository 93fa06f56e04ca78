"""The review queue (审核队列) of smart monitoring, claw-backs (追回) and credit records (信用记录).

Every finding of a monitoring rule on a stored settlement becomes a hit with a stable id ("HT" + 18 hex digits of
the SHA-1 of rule|setl_id|line|national code, and |diagnosis for the rules with one finding per diagnosis), so
running the rules again adds nothing the queue already holds. A hit is pending until a reviewer confirms or
dismisses it; each use case is one transaction, and bad input is refused (`InputError` naming the field and the
value) with nothing changed.

Confirming a hit:
* claws the fund's money back to the pooled fund of the member's insured region (a `CLAWBACK` ledger movement
  tied to the settlement, memo the hit id): for a hit on a line, the line's share of the settlement's fund
  payment (hifp_pay + inpatient_pay + chronic_pay) in proportion to its inscp_scp_amt over the settlement's,
  half-up; for a hit on the whole claim, the whole fund payment. All confirmed hits of one settlement never take
  back more than its fund payment: a later confirmation gets what is left (`clawed_back` says what each took). A
  settlement already reversed gave its fund payment back then: nothing is clawed back.
* gives the member's year back the cap room: each accumulator the fund payment counted against is lowered by its
  own part of what was clawed back, in proportion to the payment's parts (`accumulators.pool` by the hifp_pay
  part, `accumulators.inpatient` by the inpatient_pay part, the disease's `disease_accumulators.pool` by the
  chronic_pay part). Each part is taken half-up of the settlement's running total clawed back, so the corrections
  of all its confirmed hits add up to exactly that part; an accumulator never goes below 0.
* writes a credit event with the points of the region's policy (`monitoring.credit`, in force on the day of the
  decision): for the member (psn_no) under the rules about the member's own conduct (`MEMBER_RULES`; for
  family_account the relative whose account paid), for the institution (fixmedins_code) under every other rule.

A settlement reversed after a claw-back (gongji.services.settlement) returns to the pool only what the pool still
lacks: the claw-back's movement is reversed with the rest, so the pool's net is nothing either way; the replay of
the member's year keeps the cap room the claw-backs gave (`restored_cap_room`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date

import polars as pl
from sqlalchemy import Connection, Engine, func, insert, select, update

from gongji.errors import InputError
from gongji.money import div_half_up, format_yuan
from gongji.monitor import rulebook  # noqa: F401  (registers every checker in RULES)
from gongji.monitor.batch import FINDING_COLUMNS
from gongji.monitor.checkers import DEFINITE, RULES, SUSPICIOUS, subject
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.policy.schema import Credit
from gongji.store.db import transaction
from gongji.store.ledger import ACCOUNT, CLAWBACK, MULAID_PAY, insert_ignoring, now, pool_in
from gongji.store.tables import (
    accumulators,
    credit_events,
    disease_accumulators,
    institutions,
    ledger,
    monitor_hits,
    persons,
    settlement_lines,
    settlements,
)

PENDING, CONFIRMED, DISMISSED = "pending", "confirmed", "dismissed"
STATUSES = (PENDING, CONFIRMED, DISMISSED)
PRE, POST = "pre", "post"
MOMENTS = (PRE, POST)
"""事前/事中 (the online checks at settlement) and 事后 (the batch over stored settlements)."""
INSTITUTION, MEMBER = "institution", "member"
SUBJECT_KINDS = (INSTITUTION, MEMBER)
MEMBER_RULES = frozenset({"frequent_visits", "frequent_purchases", "overlapping_supply", "family_account"})
"""rules about the member's own conduct: a confirmed hit counts on the member's credit record; any other rule's
on the institution's, which settled the claim."""
MAX_REVIEWER = 50
MAX_NOTES = 2000
MAX_LIMIT = 10_000
CHUNK = 500
"""keys per IN (...) list, well inside every backend's limit of bound parameters."""
MONEY = frozenset({"amount", "clawed_back", "medfee_sumamt", "inscp_scp_amt", "hifp_pay", "inpatient_pay",
                   "chronic_pay", "fund_pay", "acct_pay", "acct_mulaid_pay", "psn_cash_pay", "det_item_fee_sumamt",
                   "fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt"})
"""the fields of `show`'s and `queue`'s answers that are amounts in fen."""


class UnknownHit(InputError):
    """A hit_id the queue does not hold."""


def hit_id(rule: str, claim: str, line: int | None, code: str, about: str = "") -> str:
    """The stable id of a finding: the same rule on the same settlement, line and national code (and `about`, the
    checkers.subject of a rule with several findings on one claim and line) is the same hit."""
    key = f"{rule}|{claim}|{'' if line is None else line}|{code}" + (f"|{about}" if about else "")
    return "HT" + hashlib.sha1(key.encode()).hexdigest()[:18].upper()


def _chunks(values: list) -> list[list]:
    return [values[i:i + CHUNK] for i in range(0, len(values), CHUNK)]


def _checked_findings(findings: pl.DataFrame, moment: str) -> list[dict]:
    if moment not in MOMENTS:
        raise InputError(f"moment: {moment!r} is not one of {', '.join(MOMENTS)}")
    missing = [c for c in FINDING_COLUMNS if c not in findings.columns]
    if missing:
        raise InputError(f"findings: missing column {missing[0]!r} (the columns are {', '.join(FINDING_COLUMNS)})")
    rows = findings.select(list(FINDING_COLUMNS)).rows(named=True)
    for i, r in enumerate(rows):
        for name in ("rule", "code", "cls", "claim", "amount", "evidence"):
            if r[name] is None:
                raise InputError(f"findings[{i}].{name}: missing")
        if r["cls"] not in (DEFINITE, SUSPICIOUS):
            raise InputError(f"findings[{i}].cls: {r['cls']!r} is not {DEFINITE} or {SUSPICIOUS}")
        if r["amount"] < 0:
            raise InputError(f"findings[{i}].amount: {r['amount']} is negative")
    return rows


def record(conn: Connection, findings: pl.DataFrame, moment: str) -> tuple[int, int]:
    """Put `findings` (gongji.monitor.batch.FINDING_COLUMNS; claim = setl_id, line = feedetl_sn) in the queue as
    pending hits found at `moment` (pre or post), in the caller's transaction. Returns (added, already known): a
    finding the queue holds, or one repeated in `findings`, is known and changes nothing."""
    rows = _checked_findings(findings, moment)
    if not rows:
        return 0, 0
    hits: dict[str, dict] = {}
    for r in rows:
        hits.setdefault(hit_id(r["rule"], r["claim"], r["line"], r["code"], subject(r["rule"], r["evidence"])), r)
    claims = sorted({r["claim"] for r in hits.values()})
    stored: dict[str, tuple[str, str]] = {}
    for part in _chunks(claims):
        for setl_id, psn_no, code in conn.execute(select(
                settlements.c.setl_id, settlements.c.psn_no, settlements.c.fixmedins_code)
                .where(settlements.c.setl_id.in_(part))):
            stored[setl_id] = (psn_no, code)
    unknown = [c for c in claims if c not in stored]
    if unknown:
        raise InputError(f"findings.claim: {unknown[0]!r} is not a stored settlement")
    known: set[str] = set()
    for part in _chunks(sorted(hits)):
        known.update(conn.execute(select(monitor_hits.c.hit_id).where(monitor_hits.c.hit_id.in_(part))).scalars())
    at = now()
    new = [{"hit_id": key, "rule": r["rule"], "code": r["code"], "cls": r["cls"], "setl_id": r["claim"],
            "line": r["line"], "psn_no": stored[r["claim"]][0], "fixmedins_code": stored[r["claim"]][1],
            "amount": r["amount"], "evidence": r["evidence"], "moment": moment, "status": PENDING,
            "found_at": at, "clawed_back": 0}
           for key, r in hits.items() if key not in known]
    for part in _chunks(new):
        insert_ignoring(conn, monitor_hits, part, ["hit_id"])
    return len(new), len(rows) - len(new)


# --- reading ----------------------------------------------------------------------------------------------------


def _filters(status: str | None, rule: str | None, institution: str | None) -> list:
    if status is not None and status not in STATUSES:
        raise InputError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    if rule is not None and rule not in RULES:
        raise InputError(f"rule: {rule!r} is not a monitoring rule (`gongji monitor rules` lists them)")
    where = []
    if status is not None:
        where.append(monitor_hits.c.status == status)
    if rule is not None:
        where.append(monitor_hits.c.rule == rule)
    if institution is not None:
        where.append(monitor_hits.c.fixmedins_code == institution)
    return where


def queue(conn: Connection, status: str | None = PENDING, rule: str | None = None, institution: str | None = None,
          limit: int = 100, offset: int = 0) -> list[dict]:
    """The hits of `status` (None: every status), of one rule and one institution when given, oldest first."""
    where = _filters(status, rule, institution)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit: {limit} is not between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InputError(f"offset: {offset} is negative")
    rows = conn.execute(select(monitor_hits).where(*where)
                        .order_by(monitor_hits.c.found_at, monitor_hits.c.hit_id).limit(limit).offset(offset))
    return [dict(r) for r in rows.mappings()]


def queue_size(conn: Connection, status: str | None = PENDING, rule: str | None = None,
               institution: str | None = None) -> int:
    """How many hits `queue` would list without a limit."""
    where = _filters(status, rule, institution)
    return conn.execute(select(func.count()).select_from(monitor_hits).where(*where)).scalar_one()


def _hit(conn: Connection, key: str, lock: bool = False) -> dict:
    query = select(monitor_hits).where(monitor_hits.c.hit_id == key)
    found = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if found is None:
        raise UnknownHit(f"hit_id: {key!r} is not in the review queue")
    return dict(found)


def evidence_pairs(text: str) -> list[tuple[str, str]]:
    """"code=X1; age=3" -> [("code", "X1"), ("age", "3")]; a part without "=" is a name with an empty value."""
    pairs = []
    for part in text.split("; ") if text else []:
        name, _eq, value = part.partition("=")
        pairs.append((name, value))
    return pairs


def _events(conn: Connection, *where) -> list[dict]:
    rows = conn.execute(select(credit_events, monitor_hits.c.rule, monitor_hits.c.code, monitor_hits.c.cls,
                               monitor_hits.c.setl_id)
                        .join(monitor_hits, monitor_hits.c.hit_id == credit_events.c.hit_id)
                        .where(*where).order_by(credit_events.c.at, credit_events.c.id))
    return [dict(r) for r in rows.mappings()]


def show(conn: Connection, key: str) -> dict:
    """The hit, its settlement's summary and lines, the evidence as (name, value) pairs and its credit events."""
    hit = _hit(conn, key)
    s = conn.execute(select(settlements).where(settlements.c.setl_id == hit["setl_id"])).mappings().one()
    clawed = conn.execute(select(func.coalesce(func.sum(monitor_hits.c.clawed_back), 0))
                          .where(monitor_hits.c.setl_id == hit["setl_id"])).scalar_one()
    summary = {k: s[k] for k in ("setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "setl_date", "med_type",
                                 "setting", "insuplc_admdvs", "medfee_sumamt", "inscp_scp_amt", "hifp_pay",
                                 "inpatient_pay", "chronic_pay", "acct_pay", "acct_mulaid_pay", "psn_cash_pay",
                                 "dise_codg", "rxno", "reversed_by")}
    summary |= {"fund_pay": s["hifp_pay"] + s["inpatient_pay"] + s["chronic_pay"], "clawed_back": int(clawed)}
    lines = conn.execute(select(settlement_lines.c.feedetl_sn, settlement_lines.c.med_list_codg,
                                settlement_lines.c.pric, settlement_lines.c.cnt,
                                settlement_lines.c.det_item_fee_sumamt, settlement_lines.c.fulamt_ownpay_amt,
                                settlement_lines.c.overlmt_amt, settlement_lines.c.preselfpay_amt,
                                settlement_lines.c.inscp_scp_amt, settlement_lines.c.memo)
                         .where(settlement_lines.c.setl_id == hit["setl_id"])
                         .order_by(settlement_lines.c.feedetl_sn)).mappings()
    return {"hit": hit, "settlement": summary, "lines": [dict(r) for r in lines],
            "evidence": evidence_pairs(hit["evidence"]), "credit_events": _events(conn, credit_events.c.hit_id == key)}


# --- deciding ---------------------------------------------------------------------------------------------------


def _decision(reviewer: str | None, notes: str | None) -> tuple[str, str | None]:
    name = (reviewer or "").strip()
    if not name:
        raise InputError("reviewer: missing (the name of who decides)")
    if len(name) > MAX_REVIEWER:
        raise InputError(f"reviewer: must be 1 to {MAX_REVIEWER} characters (value: {name!r})")
    text = (notes or "").strip() or None
    if text is not None and len(text) > MAX_NOTES:
        raise InputError(f"notes: at most {MAX_NOTES} characters (value: {len(text)} characters)")
    return name, text


def _pending(conn: Connection, key: str) -> dict:
    hit = _hit(conn, key, lock=True)
    if hit["status"] != PENDING:
        raise InputError(f"hit_id: {key} was already {hit['status']} by {hit['reviewer']} on "
                         f"{hit['decided_at']:%Y-%m-%d %H:%M:%S}; only a pending hit can be decided")
    return hit


def credit_points(book: PolicyBook, admdvs: str, on: date) -> Credit:
    """The credit points of region `admdvs`'s policy in force on `on`."""
    try:
        version = book.policy_for(admdvs, on)
    except PolicyNotFound as exc:
        raise InputError(f"region {admdvs}: {exc}") from None
    if version.monitoring is None or version.monitoring.credit is None:
        raise InputError(f"region {admdvs}: the policy in force on {on} ({version.title}) has no monitoring.credit "
                         "points for credit records")
    return version.monitoring.credit


def _share(total: int, part: int, fund: int) -> int:
    """The part (of the fund payment `fund`) that `total` clawed back holds, half-up."""
    return div_half_up(total * part, fund) if fund else 0


def _lowered(conn: Connection, table, key, lowered: Mapping[str, int]) -> None:
    """Each column of `lowered` of the (locked) accumulator row lowered by its amount, never below 0."""
    lowered = {c: amount for c, amount in lowered.items() if amount}
    if not lowered:
        return
    found = conn.execute(select(*(table.c[c] for c in lowered)).where(key).with_for_update()).mappings().first()
    if found is not None:
        conn.execute(update(table).where(key).values({c: max(found[c] - amount, 0) for c, amount in lowered.items()}))


def _correct_accumulators(conn: Connection, s: Mapping, before: int, after: int) -> None:
    """The member's year gets back the cap room of what was clawed back (from `before` to `after` in total)."""
    fund = s["hifp_pay"] + s["inpatient_pay"] + s["chronic_pay"]

    def part(paid: int) -> int:
        return _share(after, paid, fund) - _share(before, paid, fund)

    psn_no, year = s["psn_no"], s["setl_date"].year
    _lowered(conn, accumulators, (accumulators.c.psn_no == psn_no) & (accumulators.c.year == year),
             {"pool": part(s["hifp_pay"]), "inpatient": part(s["inpatient_pay"])})
    if s["dise_codg"] is not None:
        _lowered(conn, disease_accumulators,
                 (disease_accumulators.c.psn_no == psn_no) & (disease_accumulators.c.year == year)
                 & (disease_accumulators.c.dise_codg == s["dise_codg"]),
                 {"pool": part(s["chronic_pay"])})


def restored_cap_room(conn: Connection, psn_no: str, year: int) -> tuple[int, int, dict[str, int]]:
    """What claw-backs gave back to the member's year, as `_correct_accumulators` gave it: (ordinary pool,
    inpatient, pool of each disease), over the year's standing settlements with confirmed hits; for the
    settlement service's replay of a year, which recomputes accumulators from the settlements alone."""
    s = settlements.c
    rows = conn.execute(select(s.hifp_pay, s.inpatient_pay, s.chronic_pay, s.dise_codg,
                               func.sum(monitor_hits.c.clawed_back))
                        .join_from(monitor_hits, settlements, settlements.c.setl_id == monitor_hits.c.setl_id)
                        .where(s.psn_no == psn_no, s.reverses.is_(None), s.reversed_by.is_(None),
                               s.setl_date >= date(year, 1, 1), s.setl_date <= date(year, 12, 31),
                               monitor_hits.c.status == CONFIRMED)
                        .group_by(s.setl_id, s.hifp_pay, s.inpatient_pay, s.chronic_pay, s.dise_codg)).all()
    pool = inpatient = 0
    diseases: dict[str, int] = {}
    for hifp, inpat, chronic, dise, total in rows:
        fund = hifp + inpat + chronic
        pool += _share(int(total), hifp, fund)
        inpatient += _share(int(total), inpat, fund)
        if dise is not None:
            diseases[dise] = diseases.get(dise, 0) + _share(int(total), chronic, fund)
    return pool, inpatient, diseases


def _clawed(conn: Connection, hit: Mapping, s: Mapping) -> tuple[int, int]:
    """(already clawed back from the settlement by its confirmed hits, what this hit claws back)."""
    before = int(conn.execute(select(func.coalesce(func.sum(monitor_hits.c.clawed_back), 0)).where(
        monitor_hits.c.setl_id == s["setl_id"], monitor_hits.c.status == CONFIRMED)).scalar_one())
    fund = s["hifp_pay"] + s["inpatient_pay"] + s["chronic_pay"]
    if s["reversed_by"] is not None or fund <= 0:
        return before, 0
    if hit["line"] is None:
        share = fund
    else:
        line = conn.execute(select(settlement_lines.c.inscp_scp_amt).where(
            settlement_lines.c.setl_id == s["setl_id"], settlement_lines.c.feedetl_sn == hit["line"])).scalar()
        if line is None:
            raise InputError(f"hit_id: {hit['hit_id']} names line {hit['line']}, which settlement {s['setl_id']} "
                             "does not have")
        share = _share(line, fund, s["inscp_scp_amt"]) if s["inscp_scp_amt"] > 0 else 0
    return before, max(0, min(share, fund - before))


def _subject(conn: Connection, hit: Mapping) -> tuple[str, str]:
    """Who answers for the hit: (member, psn_no) under MEMBER_RULES (family_account: the relative whose account
    paid the most of the settlement), else (institution, fixmedins_code)."""
    if hit["rule"] not in MEMBER_RULES:
        return INSTITUTION, hit["fixmedins_code"]
    if hit["rule"] == "family_account":
        payer = conn.execute(select(ledger.c.holder).where(
            ledger.c.setl_id == hit["setl_id"], ledger.c.fund == ACCOUNT, ledger.c.kind == MULAID_PAY)
            .group_by(ledger.c.holder).order_by(func.sum(ledger.c.amount), ledger.c.holder).limit(1)).scalar()
        if payer is not None:
            return MEMBER, payer
    return MEMBER, hit["psn_no"]


def confirm_in(conn: Connection, book: PolicyBook, key: str, reviewer: str | None, notes: str | None = None,
               on: date | None = None) -> dict:
    """`confirm` in the caller's transaction (the admin API writes its audit log row in the same one)."""
    name, text = _decision(reviewer, notes)
    on = on or date.today()
    hit = _pending(conn, key)
    s = conn.execute(select(settlements).where(settlements.c.setl_id == hit["setl_id"])).mappings().one()
    credit = credit_points(book, s["insuplc_admdvs"], on)
    # Locks in the order settlement and reversal take them: the accumulators, then the settlement row.
    conn.execute(select(accumulators.c.psn_no).where(accumulators.c.psn_no == s["psn_no"],
                                                     accumulators.c.year == s["setl_date"].year)
                 .with_for_update()).first()
    s = conn.execute(select(settlements).where(settlements.c.setl_id == hit["setl_id"])
                     .with_for_update()).mappings().one()
    before, amount = _clawed(conn, hit, s)
    if amount:
        pool_in(conn, s["insuplc_admdvs"], amount, CLAWBACK, on, psn_no=s["psn_no"], setl_id=s["setl_id"], memo=key)
        _correct_accumulators(conn, s, before, before + amount)
    kind, subject = _subject(conn, hit)
    where = f"settlement {s['setl_id']}" + ("" if hit["line"] is None else f" line {hit['line']}")
    at = now()
    conn.execute(insert(credit_events).values(
        subject_kind=kind, subject=subject, hit_id=key,
        points=credit.definite if hit["cls"] == DEFINITE else credit.suspicious,
        reason=f"{hit['cls']} {hit['rule']} ({hit['code']}) confirmed: {where}", at=at))
    conn.execute(update(monitor_hits).where(monitor_hits.c.hit_id == key).values(
        status=CONFIRMED, reviewer=name, notes=text, decided_at=at, clawed_back=amount))
    return show(conn, key)


def confirm(engine: Engine, book: PolicyBook, key: str, reviewer: str | None, notes: str | None = None,
            on: date | None = None) -> dict:
    """Confirm a pending hit on day `on` (today when not given): the claw-back, the accumulators, the credit
    event and the decision, in one transaction. Returns `show` of the decided hit."""
    with transaction(engine) as conn:
        return confirm_in(conn, book, key, reviewer, notes, on)


def dismiss_in(conn: Connection, key: str, reviewer: str | None, notes: str | None = None) -> dict:
    """`dismiss` in the caller's transaction."""
    name, text = _decision(reviewer, notes)
    _pending(conn, key)
    conn.execute(update(monitor_hits).where(monitor_hits.c.hit_id == key).values(
        status=DISMISSED, reviewer=name, notes=text, decided_at=now()))
    return show(conn, key)


def dismiss(engine: Engine, key: str, reviewer: str | None, notes: str | None = None) -> dict:
    """Dismiss a pending hit: no money moves and no credit event is written. Returns `show` of the decided hit."""
    with transaction(engine) as conn:
        return dismiss_in(conn, key, reviewer, notes)


# --- credit records ---------------------------------------------------------------------------------------------


def credit_record(conn: Connection, book: PolicyBook, subject_kind: str, subject: str,
                  on: date | None = None) -> tuple[int, list[dict]]:
    """(score, events) of an institution (fixmedins_code) or a member (psn_no): the starting score of the policy
    of the subject's region in force on `on` (today when not given) plus the events' points, never below 0."""
    if subject_kind == INSTITUTION:
        admdvs = conn.execute(select(institutions.c.admdvs).where(institutions.c.fixmedins_code == subject)).scalar()
    elif subject_kind == MEMBER:
        admdvs = conn.execute(select(persons.c.insuplc_admdvs).where(persons.c.psn_no == subject)).scalar()
    else:
        raise InputError(f"subject_kind: {subject_kind!r} is not one of {', '.join(SUBJECT_KINDS)}")
    if admdvs is None:
        what = "a registered institution" if subject_kind == INSTITUTION else "a registered person"
        raise InputError(f"{subject_kind}: {subject!r} is not {what}")
    credit = credit_points(book, admdvs, on or date.today())
    events = _events(conn, credit_events.c.subject_kind == subject_kind, credit_events.c.subject == subject)
    return max(0, credit.start + sum(e["points"] for e in events)), events


def in_yuan(value: object) -> object:
    """`show`'s, `queue`'s or a credit record's answer with every amount (MONEY) as yuan text, for the doors."""
    if isinstance(value, Mapping):
        return {k: format_yuan(v) if k in MONEY and isinstance(v, int) else in_yuan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [in_yuan(v) for v in value]
    return value
