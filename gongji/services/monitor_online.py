"""The monitoring rules inside a settlement (事前/事中): the claim about to be settled, read against the member's
stored history, the knowledge base and the region's thresholds, by the same checkers the batch uses.

A finding of a rule the region's policy lists under `monitoring.refuse` refuses the settlement with the rule's code;
the others are warnings: they go to the settlement's notes (setl_proc_info) and, once it is stored, to the review
queue (moment "pre"). The monitor never fails a settlement: if it cannot run, the settlement goes ahead unchecked
and the failure is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Connection, bindparam, func, select

from gongji.engine.bill import PRICE_SCALE
from gongji.errors import InputError
from gongji.money import div_half_up
from gongji.monitor import rulebook
from gongji.monitor.batch import findings_frame
from gongji.monitor.checkers import DEFINITE, Context, Finding
from gongji.monitor.claims import Claim, Line
from gongji.monitor.history_rules import history_days_needed
from gongji.monitor.kb_store import load_knowledge
from gongji.monitor.knowledge import Knowledge
from gongji.monitor.thresholds import thresholds_for
from gongji.policy.schema import Version
from gongji.services import monitor_queue
from gongji.services.claims import diagnosis_codes, member_claims, paid_for_others
from gongji.services.claims import kinds as catalogue_kinds
from gongji.services.notes import Note
from gongji.store.tables import knowledge, prescription_drugs, prescriptions, stays, visits

LOG = logging.getLogger("gongji.monitor")
PRE = "pre"
"""a finding of the checks inside a settlement."""
PENDING_KEY = "(this claim)"
"""the key of the claim being settled, until it has its setl_id."""
STAMP_SECONDS = 1.0
"""How long the knowledge base in memory is used before the table's stamp is read again: a change another process
makes applies to settlements within this time; this process's imports apply at once (forget_knowledge)."""
_cache: dict[str, tuple[float, tuple, Knowledge]] = {}
# statements built once: they run inside every settlement
_STAMP = select(func.count(), func.max(knowledge.c.id), func.max(knowledge.c.recorded_at))
_DAYS = select(prescription_drugs.c.med_list_codg, func.max(prescription_drugs.c.medc_days)).where(
    prescription_drugs.c.rxno.in_(bindparam("rxnos", expanding=True))).group_by(prescription_drugs.c.med_list_codg)
# what claim_of reads besides the settlement: one round trip
_FACTS = select(
    select(func.count()).select_from(stays).where(
        stays.c.psn_no == bindparam("psn_no"), stays.c.admitted_on <= bindparam("on"),
        (stays.c.discharged_on.is_(None)) | (stays.c.discharged_on >= bindparam("on"))).scalar_subquery(),
    select(visits.c.diagnoses).where(visits.c.mdtrt_id == bindparam("mdtrt_id")).scalar_subquery(),
    select(prescriptions.c.diag_code).where(prescriptions.c.rxno == bindparam("rxno")).scalar_subquery())


def _knowledge(conn: Connection) -> Knowledge:
    """The knowledge base, loaded again only when the table changed (its row count, last id, last record)."""
    key, at = str(conn.engine.url), time.monotonic()
    found = _cache.get(key)
    if found is not None and at - found[0] < STAMP_SECONDS:
        return found[2]
    stamp = tuple(conn.execute(_STAMP).one())
    known = found[2] if found is not None and found[1] == stamp else load_knowledge(conn)
    _cache[key] = (at, stamp, known)
    return known


def forget_knowledge() -> None:
    """Read the knowledge base again at the next check (it was changed, or the database replaced)."""
    _cache.clear()


def _days(conn: Connection, rxnos: set[str]) -> dict[str, int]:
    """Supply days of each drug on the claim's prescriptions (外配处方)."""
    if not rxnos:
        return {}
    return {code: days for code, days in conn.execute(_DAYS, {"rxnos": sorted(rxnos)})}


def claim_of(conn: Connection, row: Mapping, lines: Sequence[Mapping], person: Mapping,
             payers: Sequence[tuple[str, int]], diagnoses: Sequence[str] = ()) -> Claim:
    """The settlement about to be stored (its row and lines as the settlement service computed them) as a Claim;
    `diagnoses` are the caller's own (a pre-check's), before the visit's and the prescription's."""
    rxnos = {line.get("rxno") for line in lines if line.get("rxno")} | ({row["rxno"]} if row["rxno"] else set())
    days = _days(conn, rxnos)
    on: date = row["setl_date"]
    stays_on, visit_diagnoses, rx_diagnosis = conn.execute(_FACTS, {
        "psn_no": row["psn_no"], "on": on, "mdtrt_id": row["mdtrt_id"], "rxno": row["rxno"]}).one()
    payer = next((p for p, amount in payers if p != row["psn_no"] and amount > 0), None)
    return Claim(
        key=PENDING_KEY, seq=2**62, psn_no=row["psn_no"], sex=person["gend"], birth_date=person["brdy"],
        member_type=row["member_type"], fixmedins_code=row["fixmedins_code"], setting=row["setting"],
        level=row["level"] or 0, designated=True, med_type=row["med_type"], on=on,
        lines=tuple(Line(line["feedetl_sn"], line["med_list_codg"], Decimal(line["cnt"]) / PRICE_SCALE,
                         div_half_up(line["pric"], PRICE_SCALE // 100), line["det_item_fee_sumamt"],
                         days.get(line["med_list_codg"]) if rxnos else None) for line in lines),
        diagnoses=tuple(dict.fromkeys([*diagnoses, *diagnosis_codes(visit_diagnoses, row["dise_codg"], rx_diagnosis)])),
        fund_paid=row["hifp_pay"] + row["inpatient_pay"] + row["chronic_pay"], in_stay=stays_on > 0,
        payer_psn_no=payer, rxno=row["rxno"], prescriber_code=row["prescriber_code"],
        total=row["medfee_sumamt"])


class _Payers:
    """What a relative's account paid for others (家庭共济), from the ledger, for the family_account rule."""

    def __init__(self, conn: Connection, since: date):
        self.conn, self.since = conn, since

    def paid_by(self, payer_psn_no: str, claim: Claim) -> Sequence[Claim]:
        return paid_for_others(self.conn, payer_psn_no, self.since, claim.on)


def findings(conn: Connection, version: Version, claim: Claim, kinds: Mapping[str, str] | None = None
             ) -> list[Finding]:
    """Every rule's findings on `claim` against the member's stored history; `kinds`: the list_type of the claim's
    items where the caller has read them already (the rest are read from the catalogue)."""
    known = _knowledge(conn)
    thresholds = thresholds_for(version)
    probe = Context(known, {}, thresholds)
    codes = {line.code for line in claim.lines}
    days = max(history_days_needed(rule, probe, codes) for rule in rulebook.RULES)
    since = claim.on - timedelta(days=days)
    history, kinds_read = member_claims(conn, claim.psn_no, since, claim.on) if days else ([], {})
    kinds_read |= kinds or {}
    context = Context(known, kinds_read | catalogue_kinds(conn, codes - kinds_read.keys()), thresholds,
                      payer_claims=_Payers(conn, claim.on - timedelta(days=2 * thresholds.window_days)))
    return rulebook.check_claim(claim, history, context)


def check(conn: Connection, version: Version, claim: Claim, kinds: Mapping[str, str] | None = None
          ) -> list[Finding]:
    """`findings` inside a settlement: [] when the monitor cannot run."""
    try:
        return findings(conn, version, claim, kinds)
    except Exception:  # the monitor must never stop a settlement
        LOG.exception("monitoring checks failed for %s on %s; settled unchecked", claim.psn_no, claim.on)
        return []


class Refusal(InputError):
    """A settlement the monitor refuses: a definite finding of a rule the region's policy lists under
    `monitoring.refuse`."""

    def __init__(self, finding: Finding):
        line = f" (line {finding.line})" if finding.line else ""
        super().__init__(f"monitoring {finding.code} {finding.rule}{line}: {finding.evidence}",
                         f"智能监控 {finding.code} 明确违规{line}：{finding.evidence}")
        self.finding = finding


def refusal(version: Version, findings: Sequence[Finding]) -> Refusal | None:
    """The refusal a definite finding of a rule the region refuses with calls for, naming the rule's code."""
    refused = set(version.monitoring.refuse) if version.monitoring else set()
    return next((Refusal(f) for f in findings if f.rule in refused and f.cls == DEFINITE), None)


def notes(findings: Sequence[Finding]) -> list[Note]:
    """The warnings, for setl_proc_info."""
    return [Note(f"monitoring {f.code} {f.rule} ({f.cls}): {f.evidence}",
                 f"智能监控提示 {f.code}（{f.cls}）：{f.evidence}") for f in findings]


def record(conn: Connection, setl_id: str, findings: Sequence[Finding]) -> None:
    """The warnings of a stored settlement into the review queue."""
    if findings:
        monitor_queue.record(conn, findings_frame(f._replace(claim=setl_id) for f in findings), PRE)
