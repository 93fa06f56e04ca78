"""Outpatient pooling for a whole population's year of visits at once (Polars), equal to `outpatient.adjudicate`
visit by visit, to the fen.

Every accumulator of the sequential engine is a per-member-year cumulative sum here:
* the pool payment: min(cumulative raw payment, cap), differenced;
* the inpatient benefit's deductible, owed once a year by cost above the outpatient cap: min(deductible,
  cumulative over-cap cost), differenced;
* the deductible with top-up (and the annual deductible, its one-tier case): taking the levels' deductible
  amounts in ascending order as tiers v, the deductible paid so far, capped at v, equals the cumulative sum,
  capped at v, of each visit's covered amount (visits whose own amount is at least v) or deductible paid
  (lower visits, known from the tiers before). A visit at tier v then pays min(v, A) - min(v, A - x).
One policy version settles the frame, and a member's type must not change within a settlement year.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from gongji.engine.terms import LevelTerms, OutpatientTerms
from gongji.money import BP_ONE, half_up_bp
from gongji.policy.values import IN_SERVICE, LEVELS, RETIRED

VISIT_COLUMNS = {
    "psn": "member id, any sortable type",
    "date": "visit date (pl.Date)",
    "retired": "bool: the member is a retiree",
    "age": "full years on the visit date",
    "level": "institution level 1-3 (at a pharmacy: the prescriber's)",
    "pharmacy": "bool: settled at a designated pharmacy",
    "prescribed": "bool, optional (default true): on a designated institution's prescription",
    "covered": "policy-covered amount in fen (integer)",
}
RESULT_COLUMNS = ("act_pay_dedc", "hifp_pay", "pool_prop", "over_cap_amt", "inpatient_dedc", "inpatient_pay",
                  "psn_part_amt")
_NEW_GROUP = "_new_group"
_ZERO = pl.lit(0, pl.Int64)


class FrameError(ValueError):
    """A visits frame the vectorized engine cannot settle; the message says which column and why."""


def _group_cumsum(x: pl.Expr) -> pl.Expr:
    """Cumulative sum of a non-negative column within each member-year (rows sorted by member and date).

    The running total before each group's first row never decreases, so a running maximum carries it
    through the group."""
    total = x.cum_sum()
    return total - pl.when(pl.col(_NEW_GROUP)).then(total - x).otherwise(0).cum_max()


def _key_column(terms: OutpatientTerms) -> pl.Expr:
    """Each visit's row of the terms table: level - 1 + 3 x (0 in service, 1 + retiree age band)."""
    band = pl.lit(1, pl.Int64)
    for age in sorted(terms.retired_ages)[1:]:
        band = band + (pl.col("age") >= age).cast(pl.Int64)
    return (pl.col("level").cast(pl.Int64) - 1 + 3 * pl.when(pl.col("retired")).then(band).otherwise(0)).alias("_key")


def _lookup(terms: OutpatientTerms, value: Callable[[str, LevelTerms], int]) -> pl.Expr:
    """A per-row column of value(member type, LevelTerms), by the row's `_key` (see `_key_column`)."""
    keys = [(IN_SERVICE, 0)] + [(RETIRED, age) for age in sorted(terms.retired_ages)]
    values = [value(member_type, terms.table[member_type, age, level]) for member_type, age in keys for level in LEVELS]
    return pl.lit(pl.Series(values, dtype=pl.Int64)).gather(pl.col("_key"))


def _new_group() -> pl.Expr:
    """True on the first visit of each member-year."""
    year = pl.col("date").dt.year()
    return ((pl.col("psn") != pl.col("psn").shift(1)) | (year != year.shift(1))).fill_null(True)


def _checks(frame: pl.DataFrame) -> dict[str, bool]:
    """One pass over the frame: bad levels, negative amounts, whether it is sorted by member and date."""
    psn, day = pl.col("psn"), pl.col("date")
    ordered = ((psn > psn.shift(1)) | ((psn == psn.shift(1)) & (day >= day.shift(1)))).fill_null(True)
    return frame.lazy().select(
        bad_level=(~pl.col("level").is_in(LEVELS)).any(), negative=(pl.col("covered") < 0).any(),
        ordered=ordered.all()).collect().row(0, named=True)


def _prepare(visits: pl.DataFrame) -> pl.DataFrame:
    """The visits checked, sorted by member and date, with a column marking each member-year's first visit."""
    missing = [c for c in VISIT_COLUMNS if c not in visits.columns and c != "prescribed"]
    if missing:
        raise FrameError(f"visits frame lacks columns {missing}")
    frame = visits if "prescribed" in visits.columns else visits.with_columns(prescribed=pl.lit(True))
    checks = _checks(frame)
    if checks["bad_level"]:
        bad = frame.filter(~pl.col("level").is_in(LEVELS))["level"][0]
        raise FrameError(f"level: {bad!r} is not 1, 2 or 3")
    if checks["negative"]:
        raise FrameError("covered: negative amounts")
    if not checks["ordered"]:
        frame = frame.sort("psn", "date", maintain_order=True)
    frame = frame.lazy().with_columns(_new_group().alias(_NEW_GROUP)).collect()
    if frame.lazy().select((~pl.col(_NEW_GROUP) & (pl.col("retired") != pl.col("retired").shift(1))).any()) \
            .collect().item():
        raise FrameError("retired: a member's type changes within a settlement year; settle it sequentially")
    return frame


def _deductible(terms: OutpatientTerms, lf: pl.LazyFrame) -> pl.LazyFrame:
    lf = lf.with_columns(_own_dedc=_lookup(terms, lambda _m, t: t.deductible))
    if not terms.accumulates:
        return lf.with_columns(act_pay_dedc=pl.min_horizontal("_c", "_own_dedc"))
    tiers = {member_type: sorted({terms.table[member_type, 0, level].deductible for level in LEVELS})
             for member_type in (IN_SERVICE, RETIRED)}
    rank = _lookup(terms, lambda member_type, t: tiers[member_type].index(t.deductible))
    lf = lf.with_columns(_rank=rank, act_pay_dedc=_ZERO)
    for k in range(max(len(t) for t in tiers.values())):
        # a member type with fewer tiers has no visit of rank k; any of its values will do
        tier = pl.when(pl.col("retired")).then(tiers[RETIRED][min(k, len(tiers[RETIRED]) - 1)]) \
            .otherwise(tiers[IN_SERVICE][min(k, len(tiers[IN_SERVICE]) - 1)])
        if k == 0:  # every visit is at least the lowest tier: the cumulative covered amount
            lf = lf.with_columns(_x=pl.col("_c"), _paid=pl.col("_cum_c"))
        else:
            x = pl.when(pl.col("_rank") >= k).then(pl.col("_c")).otherwise(pl.col("act_pay_dedc"))
            lf = lf.with_columns(_x=x).with_columns(_paid=_group_cumsum(pl.col("_x")))
        owed = pl.min_horizontal(tier, "_paid") - pl.min_horizontal(tier, pl.col("_paid") - pl.col("_x"))
        lf = lf.with_columns(act_pay_dedc=pl.when(pl.col("_rank") == k).then(owed).otherwise(pl.col("act_pay_dedc")))
    return lf


def _capped(lf: pl.LazyFrame, raw: str, cap: pl.Expr, paid: str, remaining: str | None = None) -> pl.LazyFrame:
    """Payments `paid` of per-visit amounts `raw` against a per-member-year cap, and optionally the cap
    `remaining` before each visit."""
    lf = lf.with_columns(_total=_group_cumsum(pl.col(raw)), _cap=cap)
    before = pl.min_horizontal(pl.col("_total") - pl.col(raw), "_cap")
    columns = {paid: pl.min_horizontal("_total", "_cap") - before}
    if remaining:
        columns[remaining] = pl.col("_cap") - before
    return lf.with_columns(**columns)


def adjudicate_frame(terms: OutpatientTerms, visits: pl.DataFrame) -> pl.DataFrame:
    """Settle every visit of `visits` (columns VISIT_COLUMNS) under `terms`.

    Returns the visits, ordered by member and date (stable), with RESULT_COLUMNS added, in fen and
    basis points, each as `outpatient.adjudicate` computes it after the member's earlier visits of the year.
    """
    frame = _prepare(visits)
    if not terms.pooled:
        return frame.select(*visits.columns, act_pay_dedc=_ZERO, hifp_pay=_ZERO, pool_prop=_ZERO,
                            over_cap_amt=_ZERO, inpatient_dedc=_ZERO, inpatient_pay=_ZERO,
                            psn_part_amt=pl.col("covered").cast(pl.Int64))
    return _settle(terms, frame.lazy()).select(*visits.columns, *RESULT_COLUMNS).collect()


def _settle(terms: OutpatientTerms, lf: pl.LazyFrame) -> pl.LazyFrame:
    """The settlement of a prepared frame, as a lazy query."""
    pooled = ~pl.col("pharmacy") | (pl.col("prescribed") & pl.lit(terms.pharmacy_pooled))
    lf = lf.with_columns(_pooled=pooled, _key=_key_column(terms)).with_columns(
        _c=pl.when(pl.col("_pooled")).then(pl.col("covered").cast(pl.Int64)).otherwise(0))
    lf = lf.with_columns(_cum_c=_group_cumsum(pl.col("_c")))
    lf = _deductible(terms, lf)

    edges = terms.edges
    lf = lf.with_columns(_start=pl.col("_cum_c") - pl.col("_c") + pl.col("act_pay_dedc"),
                         _eligible=pl.col("_c") - pl.col("act_pay_dedc"))
    lf = lf.with_columns(
        *(_lookup(terms, lambda _m, t, i=i: t.ratios[i]).alias(f"_ratio{i}") for i in range(len(edges))))
    ratios = [pl.col(f"_ratio{i}") for i in range(len(edges))]
    if len(edges) == 1:
        parts = [pl.col("_eligible")]
        prop = ratios[0]
    else:
        end = pl.col("_start") + pl.col("_eligible")
        lf = lf.with_columns(*(
            pl.max_horizontal(pl.min_horizontal(end, edges[i + 1] if i + 1 < len(edges) else end)
                              - pl.max_horizontal("_start", edge), 0).alias(f"_part{i}")
            for i, edge in enumerate(edges)))
        parts = [pl.col(f"_part{i}") for i in range(len(edges))]
        prop = ratios[0]
        for edge, ratio in zip(edges[1:], ratios[1:], strict=True):
            prop = pl.when(pl.col("_start") >= edge).then(ratio).otherwise(prop)
    weighted = parts[0] * ratios[0]
    for part, ratio in zip(parts[1:], ratios[1:], strict=True):
        weighted = weighted + part * ratio
    lf = lf.with_columns(_raw=half_up_bp(weighted), pool_prop=pl.when(pl.col("_pooled")).then(prop).otherwise(0))
    lf = _capped(lf, "_raw", _lookup(terms, lambda _m, t: t.cap), "hifp_pay", "_remaining")

    budget = pl.col("_remaining") * BP_ONE
    within, done = _ZERO, pl.lit(False)
    for part, ratio in zip(parts, ratios, strict=True):
        cost = part * ratio
        fits = cost <= budget
        # budget / ratio, half-up; a ratio of 0 always fits, the guard only keeps the division defined
        within = within + pl.when(done).then(0).when(fits).then(part).otherwise(
            (2 * budget + ratio) // (2 * pl.max_horizontal(ratio, 1)))
        budget = pl.when(fits).then(budget - cost).otherwise(budget)
        done = done | ~fits
    lf = lf.with_columns(
        over_cap_amt=pl.when(pl.col("_raw") > pl.col("_remaining")).then(pl.col("_eligible") - within).otherwise(0))

    if terms.to_inpatient:
        if any(t.inpatient_deductible for t in terms.table.values()):
            # owed by the year's first over-cap cost: min(deductible, cumulative over-cap cost), differenced
            lf = _capped(lf, "over_cap_amt", _lookup(terms, lambda _m, t: t.inpatient_deductible), "inpatient_dedc")
        else:
            lf = lf.with_columns(inpatient_dedc=_ZERO)
        inpatient_ratio = _lookup(terms, lambda _m, t: t.inpatient_ratio)
        lf = lf.with_columns(
            _inpatient_raw=half_up_bp((pl.col("over_cap_amt") - pl.col("inpatient_dedc")) * inpatient_ratio))
        lf = _capped(lf, "_inpatient_raw", _lookup(terms, lambda _m, t: t.inpatient_cap), "inpatient_pay")
    else:
        lf = lf.with_columns(inpatient_dedc=_ZERO, inpatient_pay=_ZERO)
    return lf.with_columns(psn_part_amt=pl.col("covered") - pl.col("hifp_pay") - pl.col("inpatient_pay"))
