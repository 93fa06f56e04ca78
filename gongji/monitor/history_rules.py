"""Rules that read the member's earlier claims, or facts beyond the claim: frequencies and amounts over a period,
courses, second-line drugs, frequent visits and purchases, overlapping supply, traceability codes settled twice,
claims during an inpatient stay, institutions paused or not designated, unusual family-account use.

Windows. "Within D days" of a claim on day `on` means the claims dated after `on - D days` and up to `on`
(on - D < date <= on): D = 1 is the claim's own day, D = 30 the 30 days ending with it. Claims on the same day
are ordered by `seq`, lines of one claim by `sn`; a count or a sum "through" a line covers the member's earlier
claims in the window, then this claim's lines up to and including that line. The history a checker receives is
the member's claims strictly before this one by (on, seq); each checker also drops anything else it is given.

Each checker has a batch function (`@batch`) that finds the same findings over all claims at once with window
functions, as-of joins, windows exploded by place (`_counted`, `_window_agg`) and self-joins bucketed by date
(`_pairs`), never Python per row; the tests hold the two equal.

Facts beyond the member's own history: `trace_twice` needs the traceability codes settled by anyone
(`TraceLookup`), `family_account` the payments the paying relative's account made for others (`PayerLookup`).
`Context` carries them; a checker without its lookup checks what it can (an in-claim duplicate code) or nothing.
`TraceIndex` and `PayerIndex` are the lookups over claims in memory.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import polars as pl

from gongji.money import yuan_to_fen
from gongji.monitor.batch import FINDING_COLUMNS, Frames, batch, line_findings, restrictions
from gongji.monitor.checkers import (
    CLAIM,
    DEFINITE,
    DRUG,
    MATERIAL,
    RULES,
    SERVICE,
    SUSPICIOUS,
    Context,
    Finding,
    checker,
    claim_finding,
    line_finding,
)
from gongji.monitor.claims import Claim, Line
from gongji.monitor.knowledge import Restriction

MAX_PERIOD_DAYS = 366
"""The longest period, course or window (in days) a restriction's unit or a threshold may name: the registered
`history_days` are derived from it (a course and the first-crossing rules look back twice their window). A longer
one is refused (ValueError) online and in the batch alike."""

CLINIC, PHARMACY = "clinic", "pharmacy"


# --- facts beyond the member's history -----------------------------------------------------------------------


class TraceIndex:
    """A `TraceLookup` over claims in memory: for each code, the first claim that settled it."""

    def __init__(self, claims: Iterable[Claim]):
        self._first: dict[str, tuple[date, int, str]] = {}
        for c in claims:
            for line in c.lines:
                if line.trace_code:
                    known = self._first.get(line.trace_code)
                    if known is None or (c.on, c.seq) < known[:2]:
                        self._first[line.trace_code] = (c.on, c.seq, c.key)

    def first_settled(self, trace_code: str, claim: Claim) -> str | None:
        known = self._first.get(trace_code)
        return known[2] if known and known[:2] < (claim.on, claim.seq) else None


class PayerIndex:
    """A `PayerLookup` over claims in memory."""

    def __init__(self, claims: Iterable[Claim]):
        self._by: dict[str, list[Claim]] = defaultdict(list)
        for c in claims:
            if c.payer_psn_no and c.payer_psn_no != c.psn_no:
                self._by[c.payer_psn_no].append(c)
        for paid in self._by.values():
            paid.sort(key=_order)

    def paid_by(self, payer_psn_no: str, claim: Claim) -> Sequence[Claim]:
        return [c for c in self._by.get(payer_psn_no, ()) if _order(c) < _order(claim)]


def history_days_needed(rule: str, context: Context, codes: Collection[str] | None = None) -> int:
    """How many days of the member's history `rule` reads with this context: the tight number behind the
    registered bound (the longest unit of the rule's restrictions; twice it, or twice the window, for the rules
    that look at the previous course or the previous claim's window). With `codes` (a claim's items), only the
    restrictions of those items count: a claim of no restricted item needs no history for them."""
    units = [int(r.unit) for r in context.knowledge.all if r.rule == rule and r.unit.isdigit()
             and (codes is None or r.code in codes)]
    t = context.thresholds
    return {"period_frequency": max(units, default=0), "period_amount": max(units, default=0),
            "second_line": max(units, default=0), "course": 2 * max(units, default=0),
            "frequent_visits": 2 * t.window_days, "frequent_purchases": 2 * t.window_days,
            "overlapping_supply": t.max_supply_days}.get(rule, 0)


# --- small helpers, online ------------------------------------------------------------------------------------


def _order(c: Claim) -> tuple[date, int]:
    return c.on, c.seq


def _earlier(history: Sequence[Claim], claim: Claim, days: int) -> list[Claim]:
    """The claims of `history` before `claim` by (on, seq) and within `days` days of it (on - days < date),
    oldest first."""
    start = claim.on - timedelta(days=days)
    return sorted((c for c in history if start < c.on and _order(c) < _order(claim)), key=_order)


def _through(claim: Claim, line: Line) -> list[Line]:
    """The claim's lines of `line`'s item up to and including `line`."""
    return [x for x in claim.lines if x.code == line.code and x.sn <= line.sn]


def _same_item(claims: Iterable[Claim], code: str) -> list[Line]:
    return [x for c in claims for x in sorted(c.lines, key=lambda x: x.sn) if x.code == code]


def period_days(r: Restriction) -> int:
    """The restriction's unit as a number of days, 1 .. MAX_PERIOD_DAYS."""
    try:
        days = int(r.unit)
    except ValueError:
        raise ValueError(f"unit: {r.unit!r} is not a number of days ({r.rule} {r.code})") from None
    if not 1 <= days <= MAX_PERIOD_DAYS:
        raise ValueError(f"unit: {days} days is outside 1..{MAX_PERIOD_DAYS} ({r.rule} {r.code})")
    return days


def limit_number(r: Restriction) -> Decimal:
    try:
        return Decimal(r.limit)
    except InvalidOperation:
        raise ValueError(f"limit: {r.limit!r} is not a number ({r.rule} {r.code})") from None


def units_text(units: Decimal) -> str:
    """Decimal('5.5000') -> '5.5', Decimal('50') -> '50': a quantity as evidence, the same online and in batch."""
    return format(units.normalize(), "f")


def window_days(context: Context) -> int:
    days = context.thresholds.window_days
    if not 1 <= days <= MAX_PERIOD_DAYS:
        raise ValueError(f"window_days: {days} is outside 1..{MAX_PERIOD_DAYS}")
    return days


def supply_days(context: Context) -> int:
    days = context.thresholds.max_supply_days
    if not 1 <= days <= MAX_PERIOD_DAYS:
        raise ValueError(f"max_supply_days: {days} is outside 1..{MAX_PERIOD_DAYS}")
    return days


def _threshold(limits: Mapping[str, int], member_type: str, what: str) -> int | None:
    limit = limits.get(member_type)
    if limit is not None and limit < 1:
        raise ValueError(f"{what}: {limit} for {member_type} is below 1")
    return limit


# --- period frequency and amount -----------------------------------------------------------------------------


@checker("period_frequency", {SERVICE: "医疗服务项目周期超频次"}, DEFINITE, history_days=MAX_PERIOD_DAYS)
def period_frequency(claim: Claim, history: Sequence[Claim], context: Context) -> list[Finding]:
    """周期超频次: restriction limit N, unit D days. A line is hit when the item's units (quantities summed) within
    D days of the claim (on - D < date <= on), through this line, are more than N: the line that goes over the
    limit and every later one in the window."""
    found = []
    for line in claim.lines:
        r = context.knowledge.find("period_frequency", line.code, claim.on)
        if r:
            days = period_days(r)
            earlier = _same_item(_earlier(history, claim, days), line.code)
            units = sum((x.quantity for x in earlier + _through(claim, line)), Decimal(0))
            if units > limit_number(r):
                found.append(line_finding("period_frequency", claim, line, context, limit=r.limit, days=days,
                                          units=units_text(units)))
    return found


@checker("period_amount", {SERVICE: "GZ10000102015000", MATERIAL: "GZ10000103003000"}, DEFINITE,
         history_days=MAX_PERIOD_DAYS)
def period_amount(claim: Claim, history: Sequence[Claim], context: Context) -> list[Finding]:
    """超限定报销总额: restriction limit YUAN, unit D days. A line is hit when the item's amounts within D days of
    the claim, through this line, are above the limit (total_fen in the evidence)."""
    found = []
    for line in claim.lines:
        r = context.knowledge.find("period_amount", line.code, claim.on)
        if r:
            days = period_days(r)
            earlier = _same_item(_earlier(history, claim, days), line.code)
            total = sum(x.amount for x in earlier + _through(claim, line))
            if total > yuan_to_fen(r.limit):
                found.append(line_finding("period_amount", claim, line, context, limit=r.limit, days=days,
                                          total_fen=total))
    return found


# --- course ---------------------------------------------------------------------------------------------------


@checker("course", {DRUG: "GZ10000101010000", SERVICE: "GZ10000102010000"}, DEFINITE,
         history_days=2 * MAX_PERIOD_DAYS)
def course(claim: Claim, history: Sequence[Claim], context: Context) -> list[Finding]:
    """限支付疗程: restriction limit N units, unit D days.

    A course (疗程) of the item starts at a use (a line of it) with no earlier use of it within D days (none dated
    after on - D, none earlier the same day); every later use belongs to the latest course started. The course
    is paid for D days from its start (start <= date < start + D) and for N units. A line is hit
    * when its course started D or more days before it (continued use with no D-day pause: evidence
      started_by=on - D, the course began that day or earlier), or
    * when the course's units through this line are more than N (evidence start, units).
    Deciding where the latest course started within D days needs the uses of 2 x D days."""
    found = []
    for line in claim.lines:
        r = context.knowledge.find("course", line.code, claim.on)
        if not r:
            continue
        days = period_days(r)
        span = timedelta(days=days)
        uses = [(c.on, x.quantity) for c in _earlier(history, claim, 2 * days)
                for x in sorted(c.lines, key=lambda x: x.sn) if x.code == line.code]
        uses += [(claim.on, x.quantity) for x in _through(claim, line)]
        start, units, prev = claim.on, Decimal(0), None
        for on, quantity in uses:
            if prev is None or prev <= on - span:
                start, units = on, Decimal(0)
            units += quantity
            prev = on
        if start <= claim.on - span:
            found.append(line_finding("course", claim, line, context, limit=r.limit, days=days,
                                      started_by=claim.on - span))
        elif units > limit_number(r):
            found.append(line_finding("course", claim, line, context, limit=r.limit, days=days, start=start,
                                      units=units_text(units)))
    return found


# --- second line ----------------------------------------------------------------------------------------------


@checker("second_line", {DRUG: "GZ10000101005000"}, SUSPICIOUS, history_days=MAX_PERIOD_DAYS)
def second_line(claim: Claim, history: Sequence[Claim], context: Context) -> list[Finding]:
    """限二线使用: restriction other_code = the first-line drug, unit D days. A line of the second-line drug is
    suspicious when none of the member's earlier claims within D days (before this one by (on, seq), dated after
    on - D) has the first-line drug. This claim does not count: second line means after the first line was tried,
    and prescribing both together shows no failure of the first."""
    found = []
    for line in claim.lines:
        r = context.knowledge.find("second_line", line.code, claim.on)
        if r and r.other_code:
            days = period_days(r)
            if not _same_item(_earlier(history, claim, days), r.other_code):
                found.append(line_finding("second_line", claim, line, context, other_code=r.other_code, days=days))
    return found


# --- frequent visits and purchases ----------------------------------------------------------------------------


def _crossing(claims: Sequence[Claim], days: int, above: Callable[[Sequence[Claim]], bool]) -> list[Claim] | None:
    """The window (the claims within `days` days of the last one, oldest first) when the last of `claims`
    (ordered) makes it `above` and the previous claim's own window was not; else None."""
    def window(i: int) -> list[Claim]:
        start = claims[i].on - timedelta(days=days)
        return [c for c in claims[:i + 1] if c.on > start]

    last = window(len(claims) - 1)
    if not above(last) or (len(claims) > 1 and above(window(len(claims) - 2))):
        return None
    return last


def _frequent(rule: str, setting: str, limits: Mapping[str, int], word: str, claim: Claim,
              history: Sequence[Claim], context: Context) -> list[Finding]:
    if claim.setting != setting:
        return []
    limit = _threshold(limits, claim.member_type, word)
    if limit is None:
        return []
    days = window_days(context)
    own = [c for c in _earlier(history, claim, 2 * days) if c.setting == setting] + [claim]
    window = _crossing(own, days, lambda w: len(w) > limit)
    if window is None:
        return []
    return [claim_finding(rule, claim, **{word: len(window)}, limit=limit, window_days=days,
                          claims=",".join(c.key for c in window))]


@checker("frequent_visits", {CLAIM: "GZ10000204002000"}, SUSPICIOUS, history_days=2 * MAX_PERIOD_DAYS)
def frequent_visits(claim: Claim, history: Sequence[Claim], context: Context) -> list[Finding]:
    """频繁门诊: the member's clinic claims within window_days days (this one included) are more than
    thresholds.visits[member_type]. Found once per crossing: on the claim that goes above the threshold when the
    member's previous clinic claim was not above it (its own window counted, against this claim's threshold), so
    that a run of frequent visits is one finding for the reviewer, not one per visit. The evidence lists the
    window's claims. Needs 2 x window_days of history; thresholds are at least 1."""
    return _frequent("frequent_visits", CLINIC, context.thresholds.visits, "visits", claim, history, context)


@checker("frequent_purchases", {CLAIM: "GZ10000204003000"}, SUSPICIOUS, history_days=2 * MAX_PERIOD_DAYS)
def frequent_purchases(claim: Claim, history: Sequence[Claim], context: Context) -> list[Finding]:
    """频繁购药: as `frequent_visits`, for pharmacy claims against thresholds.purchases."""
    return _frequent("frequent_purchases", PHARMACY, context.thresholds.purchases, "purchases", claim, history,
                     context)


# --- overlapping supply ---------------------------------------------------------------------------------------


@checker("overlapping_supply", {DRUG: "GZ10000301006000"}, SUSPICIOUS, history_days=MAX_PERIOD_DAYS)
def overlapping_supply(claim: Claim, history: Sequence[Claim], context: Context) -> list[Finding]:
    """重复开药: a drug line with supply days (on .. on + days - 1) while a supply of the same drug code bought at
    another institution (fixmedins_code differs) on an earlier claim (by (on, seq), within max_supply_days days:
    dated after on - max_supply_days) still runs on the claim's day (its on + days - 1 >= this on). The evidence
    lists the earlier claims, oldest first."""
    found = []
    longest = supply_days(context)
    earlier = [c for c in _earlier(history, claim, longest) if c.fixmedins_code != claim.fixmedins_code]
    for line in claim.lines:
        if context.kind(line.code) != DRUG or not line.days or line.days < 1:
            continue
        keys = [c.key for c in earlier if any(
            x.code == line.code and x.days and x.days >= 1 and c.on + timedelta(days=x.days - 1) >= claim.on
            for x in c.lines)]
        if keys:
            found.append(line_finding("overlapping_supply", claim, line, context, days=line.days,
                                      overlaps=",".join(keys)))
    return found


# --- facts ----------------------------------------------------------------------------------------------------


@checker("trace_twice", {DRUG: "追溯码重复结算"}, DEFINITE)
def trace_twice(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """药品追溯码重复结算: a line whose traceability code was settled before: on an earlier claim of anyone
    (context.trace_codes) or on an earlier line of this claim. The evidence names the first claim that settled
    it (this claim's own key for a duplicate within it)."""
    lookup = context.trace_codes
    found = []
    for line in claim.lines:
        if not line.trace_code:
            continue
        first = lookup.first_settled(line.trace_code, claim) if lookup else None
        if first is None and any(x.trace_code == line.trace_code and x.sn < line.sn for x in claim.lines):
            first = claim.key
        if first is not None:
            found.append(line_finding("trace_twice", claim, line, context, trace_code=line.trace_code, first=first))
    return found


@checker("during_stay", {CLAIM: "住院期间门诊结算"}, DEFINITE)
def during_stay(claim: Claim, _history: Sequence[Claim], _context: Context) -> list[Finding]:
    """住院期间门诊结算: an outpatient or pharmacy claim on a day an inpatient stay of the member covers."""
    return [claim_finding("during_stay", claim, setting=claim.setting)] if claim.in_stay else []


@checker("institution_status", {CLAIM: "非定点或暂停机构结算"}, DEFINITE)
def institution_status(claim: Claim, _history: Sequence[Claim], _context: Context) -> list[Finding]:
    """非定点或暂停机构结算: a claim settled at an institution not designated, or paused, on the claim's date."""
    if claim.designated:
        return []
    return [claim_finding("institution_status", claim, fixmedins_code=claim.fixmedins_code)]


@checker("family_account", {CLAIM: "家庭共济账户异常使用"}, SUSPICIOUS)
def family_account(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """家庭共济账户异常使用: a claim paid from a relative's account (payer_psn_no) when, within window_days days
    (this claim included), that account paid for more than thresholds.family_people distinct people or made more
    than thresholds.family_payments payments for others. Once per crossing, as `frequent_visits`: the payer's
    previous payment for others was not above. Reads the payer's payments (context.payer_claims), not the
    member's history."""
    payer = claim.payer_psn_no
    lookup = context.payer_claims
    if not payer or payer == claim.psn_no or lookup is None:
        return []
    t = context.thresholds
    days = window_days(context)
    start = claim.on - timedelta(days=2 * days)
    paid = sorted((c for c in lookup.paid_by(payer, claim) if c.payer_psn_no == payer and c.psn_no != payer
                   and c.on > start and _order(c) < _order(claim)), key=_order) + [claim]

    def above(window: Sequence[Claim]) -> bool:
        return len({c.psn_no for c in window}) > t.family_people or len(window) > t.family_payments

    window = _crossing(paid, days, above)
    if window is None:
        return []
    return [claim_finding("family_account", claim, payer=payer, people=len({c.psn_no for c in window}),
                          payments=len(window), window_days=days, claims=",".join(c.key for c in window))]


# --- batch helpers --------------------------------------------------------------------------------------------

_YUAN = re.compile(r"^\d+(\.\d{1,2})?$")


def _claims(frames: Frames) -> pl.DataFrame:
    """The claims with `cpos`, their position by (on, seq)."""
    return frames.claims.sort("on", "seq").with_row_index("cpos").with_columns(pl.col("cpos").cast(pl.Int64))


def _lines(frames: Frames, lines: pl.DataFrame | None = None) -> pl.DataFrame:
    """The lines (with their claim's columns) and the claim's `cpos`."""
    positions = _claims(frames).select("key", "cpos")
    return (frames.lines if lines is None else lines).join(positions, on="key", how="left")


def _days(rows: pl.DataFrame) -> pl.DataFrame:
    """Restriction rows with `_d`, the unit in days; a unit that is not 1..MAX_PERIOD_DAYS is refused."""
    rows = rows.with_columns(_d=pl.col("unit").cast(pl.Int64, strict=False))
    bad = rows.filter(pl.col("_d").is_null() | ~pl.col("_d").is_between(1, MAX_PERIOD_DAYS))
    if not bad.is_empty():
        raise ValueError(f"unit: {bad['unit'][0]!r} is not a number of days in 1..{MAX_PERIOD_DAYS} "
                         f"({bad['code'][0]})")
    return rows


def _limits(rows: pl.DataFrame) -> pl.DataFrame:
    """Restriction rows with `_n`, the limit as a number."""
    rows = rows.with_columns(_n=pl.col("limit").cast(pl.Decimal(38, 4), strict=False))
    bad = rows.filter(pl.col("_n").is_null())
    if not bad.is_empty():
        raise ValueError(f"limit: {bad['limit'][0]!r} is not a number ({bad['code'][0]})")
    return rows


def _units_text(units: pl.Expr) -> pl.Expr:
    """`units_text` for a Decimal column of scale 4."""
    return units.cast(pl.String).str.strip_chars_end("0").str.strip_chars_end(".")


def _ago(days: pl.Expr | int) -> pl.Expr:
    return pl.col("on") - pl.duration(days=days)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING_COLUMNS)


def _claim_findings(rule: str, hits: pl.DataFrame, evidence: pl.Expr) -> pl.DataFrame:
    """A findings frame of claim hits (claims columns), as `checkers.claim_finding` makes them."""
    spec = RULES[rule]
    code = spec.codes.get(CLAIM) or next(iter(spec.codes.values()))
    return hits.select(rule=pl.lit(rule), code=pl.lit(code), cls=pl.lit(spec.cls), claim=pl.col("key"),
                       line=pl.lit(None, pl.Int64), amount=pl.col("fund_paid"), evidence=evidence)


def _pairs(left: pl.DataFrame, right: pl.DataFrame, by: list[str], days: int) -> pl.DataFrame:
    """Each row of `left` with each row of `right` of the same `by` dated within `days` days of it
    (left on - days < right on <= left on); right's columns other than `by` get the suffix "_e". The join meets
    only rows of two buckets of `days` days, so it grows with the rows within the window, not the history."""
    bucket = pl.col("on").cast(pl.Int32) // days
    left = left.with_columns(_b=pl.concat_list(bucket, bucket - 1)).explode("_b")
    right = right.with_columns(_b=bucket).rename({c: f"{c}_e" for c in right.columns if c not in by})
    pairs = left.join(right, on=[*by, "_b"], how="inner").drop("_b")
    return pairs.filter((pl.col("on_e") > _ago(days)) & (pl.col("on_e") <= pl.col("on")))


# --- batch: period frequency and amount -----------------------------------------------------------------------


def _period_rows(frames: Frames, rule: str, value: str) -> pl.DataFrame:
    """The `rule`'s restricted lines with `_total`: `value` summed over the item's lines of the member within the
    restriction's D days, through the line. A running sum per member and item, less the running sum at the end
    of the last day outside the window (an as-of join)."""
    by, order = ["psn_no", "code"], ["cpos", "sn"]
    restricted = frames.knowledge.filter(pl.col("rule") == rule)["code"].unique().implode()
    # only the items the rule restricts need running sums (the other lines never reach a finding)
    lines = _lines(frames).filter(pl.col("code").is_in(restricted)).select(*by, "key", "sn", "on", "cpos", value)
    lines = lines.with_columns(_cum=pl.col(value).cum_sum().over(by, order_by=order))
    day_end = (lines.group_by(*by, "on").agg(_day=pl.col("_cum").sort_by(*order).last())
               .rename({"on": "_day_on"}).sort("_day_on"))
    rows = _days(restrictions(frames, rule)).join(lines.select("key", "sn", "_cum"), on=["key", "sn"])
    rows = rows.with_columns(_edge=_ago(pl.col("_d"))).sort("_edge")
    rows = rows.join_asof(day_end, left_on="_edge", right_on="_day_on", by=by, strategy="backward",
                          check_sortedness=False)
    return rows.with_columns(_total=pl.col("_cum") - pl.col("_day").fill_null(0))


@batch("period_frequency")
def period_frequency_batch(frames: Frames) -> pl.DataFrame:
    rows = _limits(_period_rows(frames, "period_frequency", "quantity"))
    hits = rows.filter(pl.col("_total") > pl.col("_n"))
    return line_findings("period_frequency", hits,
                         pl.format("limit={}; days={}; units={}", "limit", "_d", _units_text(pl.col("_total"))))


@batch("period_amount")
def period_amount_batch(frames: Frames) -> pl.DataFrame:
    rows = _period_rows(frames, "period_amount", "amount")
    bad = rows.filter(~pl.col("limit").str.contains(_YUAN.pattern))
    if not bad.is_empty():
        yuan_to_fen(bad["limit"][0])  # raises the money error naming the value
    rows = rows.with_columns(_fen=(pl.col("limit").cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64))
    hits = rows.filter(pl.col("_total") > pl.col("_fen"))
    return line_findings("period_amount", hits, pl.format("limit={}; days={}; total_fen={}", "limit", "_d",
                                                          "_total"))


# --- batch: course --------------------------------------------------------------------------------------------


@batch("course")
def course_batch(frames: Frames) -> pl.DataFrame:
    """Courses depend on D (a use starts one when the previous use is D or more days before it), so the uses are
    cut into courses once per distinct D of the restrictions (a handful), each time with window functions."""
    targets = _limits(_days(restrictions(frames, "course")))
    if targets.is_empty():
        return _empty()
    by, order = ["psn_no", "code"], ["cpos", "sn"]
    uses = (_lines(frames).filter(pl.col("code").is_in(targets["code"].unique().implode()))
            .select(*by, "key", "sn", "on", "cpos", "quantity")
            .with_columns(_prev=pl.col("on").shift(1).over(by, order_by=order)))
    parts = []
    for days in sorted(targets["_d"].unique().to_list()):
        cut = uses.with_columns(_start=pl.col("_prev").is_null() | (pl.col("_prev") <= _ago(days)))
        cut = cut.with_columns(_course=pl.col("_start").cum_sum().over(by, order_by=order))
        cut = cut.with_columns(_start_on=pl.col("on").first().over(*by, "_course", order_by=order),
                               _units=pl.col("quantity").cum_sum().over(*by, "_course", order_by=order))
        parts.append(targets.filter(pl.col("_d") == days)
                     .join(cut.select("key", "sn", "_start_on", "_units"), on=["key", "sn"]))
    rows = pl.concat(parts)
    beyond = pl.col("_start_on") <= _ago(pl.col("_d"))
    hits = rows.filter(beyond | (pl.col("_units") > pl.col("_n")))
    evidence = (pl.when(beyond)
                .then(pl.format("limit={}; days={}; started_by={}", "limit", "_d", _ago(pl.col("_d"))))
                .otherwise(pl.format("limit={}; days={}; start={}; units={}", "limit", "_d", "_start_on",
                                     _units_text(pl.col("_units")))))
    return line_findings("course", hits, evidence)


# --- batch: second line ---------------------------------------------------------------------------------------


@batch("second_line")
def second_line_batch(frames: Frames) -> pl.DataFrame:
    """The member's last earlier claim (by position) with the first-line drug, by an as-of join; a hit when there
    is none or it is dated on - D or before."""
    targets = restrictions(frames, "second_line").filter(pl.col("other_code").fill_null("") != "")
    targets = _lines(frames, _days(targets)).sort("cpos")
    first_line = (_lines(frames).select("psn_no", "code", "cpos", _first_on="on")
                  .filter(pl.col("code").is_in(targets["other_code"].unique().implode())).sort("cpos"))
    rows = targets.join_asof(first_line, on="cpos", by_left=["psn_no", "other_code"], by_right=["psn_no", "code"],
                             strategy="backward", allow_exact_matches=False, suffix="_first",
                             check_sortedness=False)
    hits = rows.filter(pl.col("_first_on").is_null() | (pl.col("_first_on") <= _ago(pl.col("_d"))))
    return line_findings("second_line", hits, pl.format("other_code={}; days={}", "other_code", "_d"))


# --- batch: frequent visits and purchases ---------------------------------------------------------------------


def _crossings(rows: pl.DataFrame, group: str, above: pl.Expr) -> pl.DataFrame:
    """Rows (one per claim, with `cpos`) that are `above` when the previous row of their `group` is not."""
    rows = rows.with_columns(_above=above)
    rows = rows.with_columns(_prev_above=pl.col("_above").shift(1).over(group, order_by="cpos").fill_null(False))
    return rows.filter(pl.col("_above") & ~pl.col("_prev_above"))


def _counted(rows: pl.DataFrame, group: str, days: int) -> pl.DataFrame:
    """Claims (with `cpos`) with `_idx`, their place in their `group` by cpos, and `_n`, the group's claims within
    `days` days through this one: `_idx` less that of the group's last claim dated on - days or before (an as-of
    join on the last place of each day)."""
    rows = rows.with_columns(_idx=pl.int_range(pl.len(), dtype=pl.Int64).over(group, order_by="cpos"))
    day_end = (rows.group_by(group, "on").agg(_last=pl.col("_idx").max())
               .rename({"on": "_day_on"}).sort("_day_on"))
    rows = rows.with_columns(_edge=_ago(days)).sort("_edge").join_asof(
        day_end, left_on="_edge", right_on="_day_on", by=group, strategy="backward", check_sortedness=False)
    return rows.with_columns(_n=pl.col("_idx") - pl.col("_last").fill_null(-1)).drop("_edge", "_day_on", "_last")


def _window_agg(targets: pl.DataFrame, rows: pl.DataFrame, group: str, **aggs: pl.Expr) -> pl.DataFrame:
    """`aggs` over each target's window (the `_n` claims of its group ending with it, `_counted`), by target key;
    the window's columns carry the suffix "_e". The windows are exploded by place, so the work is the size of the
    targets' windows, however busy the group is elsewhere."""
    spans = targets.select("key", group, _idx_e=pl.int_ranges(pl.col("_idx") - pl.col("_n") + 1, pl.col("_idx") + 1))
    window = rows.select(group, pl.all().exclude(group).name.suffix("_e"))
    return spans.explode("_idx_e").join(window, on=[group, "_idx_e"]).group_by("key").agg(**aggs)


def _frequent_batch(frames: Frames, rule: str, setting: str, limits: Mapping[str, int], word: str) -> pl.DataFrame:
    days = window_days(frames.context)
    for member_type in limits:
        _threshold(limits, member_type, word)
    claims = _claims(frames).filter(pl.col("setting") == setting).select(
        "key", "psn_no", "member_type", "fund_paid", "on", "cpos")
    counted = _counted(claims, "psn_no", days)
    # the previous claim's count is compared with this claim's threshold
    counted = counted.with_columns(
        _limit=pl.col("member_type").replace_strict(dict(limits), default=None, return_dtype=pl.Int64),
        _prev_n=pl.col("_n").shift(1).over("psn_no", order_by="cpos"))
    hits = counted.filter((pl.col("_n") > pl.col("_limit"))
                          & (pl.col("_prev_n").is_null() | (pl.col("_prev_n") <= pl.col("_limit"))))
    keys = _window_agg(hits, counted, "psn_no", _keys=pl.col("key_e").sort_by("cpos_e").str.join(","))
    return _claim_findings(rule, hits.join(keys, on="key"),
                           pl.format(f"{word}={{}}; limit={{}}; window_days={days}; claims={{}}",
                                     "_n", "_limit", "_keys"))


@batch("frequent_visits")
def frequent_visits_batch(frames: Frames) -> pl.DataFrame:
    return _frequent_batch(frames, "frequent_visits", CLINIC, frames.context.thresholds.visits, "visits")


@batch("frequent_purchases")
def frequent_purchases_batch(frames: Frames) -> pl.DataFrame:
    return _frequent_batch(frames, "frequent_purchases", PHARMACY, frames.context.thresholds.purchases,
                           "purchases")


# --- batch: overlapping supply --------------------------------------------------------------------------------


@batch("overlapping_supply")
def overlapping_supply_batch(frames: Frames) -> pl.DataFrame:
    longest = supply_days(frames.context)
    lines = _lines(frames).filter(pl.col("days") >= 1)
    supplies = lines.select("psn_no", "code", "key", "on", "cpos", "fixmedins_code", "days")
    pairs = _pairs(lines.filter(pl.col("kind") == DRUG), supplies, ["psn_no", "code"], longest)
    pairs = pairs.filter((pl.col("cpos_e") < pl.col("cpos"))
                         & (pl.col("fixmedins_code_e") != pl.col("fixmedins_code"))
                         & (pl.col("on_e") + pl.duration(days=pl.col("days_e") - 1) >= pl.col("on")))
    hits = (pairs.group_by("key", "sn")
            .agg(pl.first("code", "kind", "amount", "days"),
                 _keys=pl.col("key_e").sort_by("cpos_e").unique(maintain_order=True).str.join(",")))
    return line_findings("overlapping_supply", hits, pl.format("days={}; overlaps={}", "days", "_keys"))


# --- batch: facts ---------------------------------------------------------------------------------------------


@batch("trace_twice")
def trace_twice_batch(frames: Frames) -> pl.DataFrame:
    """Every line of a traceability code after its first (by claim position, then sn)."""
    order = ["cpos", "sn"]
    lines = _lines(frames).filter(pl.col("trace_code").fill_null("") != "")
    lines = lines.with_columns(_rank=pl.int_range(pl.len()).over("trace_code", order_by=order),
                               _first=pl.col("key").first().over("trace_code", order_by=order))
    return line_findings("trace_twice", lines.filter(pl.col("_rank") > 0),
                         pl.format("trace_code={}; first={}", "trace_code", "_first"))


@batch("during_stay")
def during_stay_batch(frames: Frames) -> pl.DataFrame:
    return _claim_findings("during_stay", frames.claims.filter(pl.col("in_stay")),
                           pl.format("setting={}", "setting"))


@batch("institution_status")
def institution_status_batch(frames: Frames) -> pl.DataFrame:
    return _claim_findings("institution_status", frames.claims.filter(~pl.col("designated")),
                           pl.format("fixmedins_code={}", "fixmedins_code"))


@batch("family_account")
def family_account_batch(frames: Frames) -> pl.DataFrame:
    """Payments counted by `_counted`; people only where the payments are few enough to matter (a window of more
    than family_payments + 1 payments is above, and a crossing has at most that many: the previous one was not
    above)."""
    t = frames.context.thresholds
    days = window_days(frames.context)
    paid = _claims(frames).filter(pl.col("payer_psn_no").is_not_null()
                                  & (pl.col("payer_psn_no") != pl.col("psn_no")))
    counted = _counted(paid.select("key", "payer_psn_no", "psn_no", "fund_paid", "on", "cpos"), "payer_psn_no", days)
    few = _window_agg(counted.filter(pl.col("_n") <= t.family_payments + 1), counted, "payer_psn_no",
                      _people=pl.col("psn_no_e").n_unique().cast(pl.Int64),
                      _keys=pl.col("key_e").sort_by("cpos_e").str.join(","))
    counted = counted.join(few, on="key", how="left")
    hits = _crossings(counted, "payer_psn_no",
                      (pl.col("_n") > t.family_payments) | (pl.col("_people").fill_null(0) > t.family_people))
    return _claim_findings("family_account", hits,
                           pl.format(f"payer={{}}; people={{}}; payments={{}}; window_days={days}; claims={{}}",
                                     "payer_psn_no", "_people", "_n", "_keys"))
