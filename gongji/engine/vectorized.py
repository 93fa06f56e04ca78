"""Outpatient pooling for a whole population's year of visits at once (Polars), equal to `outpatient.adjudicate`
visit by visit, to the fen.

Every accumulator of the sequential engine is a per-member-year cumulative sum here:
* the pool payment: min(cumulative raw payment, cap) differenced;
* the deductible with top-up (and the annual deductible, its one-tier case): taking the levels' deductible
  amounts in ascending order as tiers v, the deductible paid so far, capped at v, equals the cumulative sum,
  capped at v, of each visit's covered amount (visits whose own amount is at least v) or deductible paid
  (lower visits, known from the tiers before). A visit at tier v then pays min(v, A) - min(v, A - x).
One policy version settles the frame, and a member's type must not change within a settlement year.
"""

from __future__ import annotations

import polars as pl

from gongji.money import BP_ONE
from gongji.policy.schema import Outpatient, RatioTable, Version

VISIT_COLUMNS = {
    "psn": "member id, any type",
    "date": "visit date (pl.Date)",
    "retired": "bool: the member is a retiree",
    "age": "full years on the visit date",
    "level": "institution level 1-3 (at a pharmacy: the prescriber's)",
    "pharmacy": "bool: settled at a designated pharmacy",
    "prescribed": "bool: on a designated institution's prescription (matters at a pharmacy)",
    "covered": "policy-covered amount in fen (int64)",
}
RESULT_COLUMNS = ("act_pay_dedc", "hifp_pay", "pool_prop", "over_cap_amt", "inpatient_pay", "psn_part_amt")

_NEW_GROUP = "_new_group"


class FrameError(ValueError):
    """A visits frame the vectorized engine cannot settle; the message says which column and why."""


def _group_cumsum(x: pl.Expr) -> pl.Expr:
    """Cumulative sum within each member-year of a frame sorted by member and date."""
    total = x.cum_sum()
    start = pl.when(pl.col(_NEW_GROUP)).then(total - x).otherwise(None).forward_fill()
    return total - start


def _half_up(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    """Half-up division for non-negative numerators."""
    return (2 * numerator + denominator) // (2 * denominator)


def _by_member_type(in_service: object, retired: object) -> pl.Expr:
    return pl.when(pl.col("retired")).then(pl.lit(retired)).otherwise(pl.lit(in_service))


def _by_level(mapping: dict[int, int]) -> pl.Expr:
    return pl.col("level").replace_strict(mapping, return_dtype=pl.Int64)


def _ratio(table: RatioTable) -> pl.Expr:
    retired = _by_level(table.retired)
    for age, by_level in sorted(table.retired_from_age.items()):
        retired = pl.when(pl.col("age") >= age).then(_by_level(by_level)).otherwise(retired)
    return pl.when(pl.col("retired")).then(retired).otherwise(_by_level(table.in_service))


def _prepare(visits: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in VISIT_COLUMNS if c not in visits.columns and c != "prescribed"]
    if missing:
        raise FrameError(f"visits frame lacks columns {missing}")
    frame = visits if "prescribed" in visits.columns else visits.with_columns(prescribed=pl.lit(True))
    bad_level = frame.filter(~pl.col("level").is_in([1, 2, 3]))
    if bad_level.height:
        raise FrameError(f"level: {bad_level['level'][0]!r} is not 1, 2 or 3")
    if frame.filter(pl.col("covered") < 0).height:
        raise FrameError("covered: negative amounts")
    year = pl.col("date").dt.year()
    ordered = (pl.col("psn") > pl.col("psn").shift(1)) | (
        (pl.col("psn") == pl.col("psn").shift(1)) & (pl.col("date") >= pl.col("date").shift(1)))
    if not frame.select(ordered.fill_null(True).all()).item():
        frame = frame.sort("psn", "date", maintain_order=True)
    frame = frame.with_columns(
        ((pl.col("psn") != pl.col("psn").shift(1)) | (year != year.shift(1))).fill_null(True).alias(_NEW_GROUP))
    type_change = frame.select((~pl.col(_NEW_GROUP) & (pl.col("retired") != pl.col("retired").shift(1))).any())
    if type_change.item():
        raise FrameError("retired: a member's type changes within a settlement year; settle it sequentially")
    return frame


def _deductible(op: Outpatient, frame: pl.DataFrame) -> pl.DataFrame:
    rule = op.deductible
    own = pl.when(pl.col("retired")).then(_by_level(rule.retired)).otherwise(_by_level(rule.in_service))
    frame = frame.with_columns(_own_dedc=own)
    if not rule.accumulates:
        return frame.with_columns(act_pay_dedc=pl.min_horizontal("_c", "_own_dedc"))
    tiers = {t: sorted(set(getattr(rule, t).values())) for t in ("in_service", "retired")}
    rank = pl.when(pl.col("retired")).then(
        pl.col("_own_dedc").replace_strict({v: i for i, v in enumerate(tiers["retired"])}, return_dtype=pl.Int64)
    ).otherwise(
        pl.col("_own_dedc").replace_strict({v: i for i, v in enumerate(tiers["in_service"])}, return_dtype=pl.Int64))
    frame = frame.with_columns(_rank=rank, act_pay_dedc=pl.lit(0, dtype=pl.Int64))
    for k in range(max(len(t) for t in tiers.values())):
        tier = _by_member_type(tiers["in_service"][min(k, len(tiers["in_service"]) - 1)],
                               tiers["retired"][min(k, len(tiers["retired"]) - 1)])
        x = pl.when(pl.col("_rank") >= k).then(pl.col("_c")).otherwise(pl.col("act_pay_dedc"))
        paid = _group_cumsum(x)
        owed = pl.min_horizontal(tier, paid) - pl.min_horizontal(tier, paid - x)
        frame = frame.with_columns(
            act_pay_dedc=pl.when(pl.col("_rank") == k).then(owed).otherwise(pl.col("act_pay_dedc")))
    return frame


def _capped(raw: pl.Expr, cap: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(payment, cap remaining before the visit) for raw payments against a per-member-year cap."""
    total = _group_cumsum(raw)
    before = pl.min_horizontal(total - raw, cap)
    return pl.min_horizontal(total, cap) - before, cap - before


def adjudicate_frame(version: Version, visits: pl.DataFrame) -> pl.DataFrame:
    """Settle every visit of `visits` (columns VISIT_COLUMNS) under `version`.

    Returns the visits, ordered by member and date (stable), with RESULT_COLUMNS added, in fen and
    basis points, each as `outpatient.adjudicate` computes it for the visit after the member's earlier
    visits of the same year.
    """
    frame = _prepare(visits)
    op = version.outpatient
    if op is None:
        return frame.drop(_NEW_GROUP).with_columns(
            act_pay_dedc=pl.lit(0, pl.Int64), hifp_pay=pl.lit(0, pl.Int64), pool_prop=pl.lit(0, pl.Int64),
            over_cap_amt=pl.lit(0, pl.Int64), inpatient_pay=pl.lit(0, pl.Int64), psn_part_amt=pl.col("covered"))
    pooled = ~pl.col("pharmacy") | (pl.col("prescribed") & pl.lit(op.pharmacy.pooled))
    frame = frame.with_columns(_pooled=pooled, _c=pl.when(pooled).then(pl.col("covered")).otherwise(0))
    frame = _deductible(op, frame)

    start = _group_cumsum(pl.col("_c")) - pl.col("_c") + pl.col("act_pay_dedc")
    frame = frame.with_columns(_start=start, _eligible=pl.col("_c") - pl.col("act_pay_dedc"))
    bands = op.segments()
    parts, ratios = [], []
    end = pl.col("_start") + pl.col("_eligible")
    for i, (edge, table) in enumerate(bands):
        upper = pl.lit(bands[i + 1][0]) if i + 1 < len(bands) else end
        parts.append(pl.max_horizontal(pl.min_horizontal(end, upper) - pl.max_horizontal("_start", pl.lit(edge)), 0))
        ratios.append(_ratio(table))
    frame = frame.with_columns(
        *(p.alias(f"_part{i}") for i, p in enumerate(parts)), *(r.alias(f"_ratio{i}") for i, r in enumerate(ratios)))
    parts = [pl.col(f"_part{i}") for i in range(len(bands))]
    ratios = [pl.col(f"_ratio{i}") for i in range(len(bands))]
    prop = ratios[0]
    for (edge, _table), ratio in zip(bands[1:], ratios[1:], strict=True):
        prop = pl.when(pl.col("_start") >= edge).then(ratio).otherwise(prop)
    raw = _half_up(pl.sum_horizontal(p * r for p, r in zip(parts, ratios, strict=True)), BP_ONE)
    frame = frame.with_columns(_raw=raw, pool_prop=pl.when(pl.col("_pooled")).then(prop).otherwise(0))
    hifp, remaining = _capped(pl.col("_raw"), _by_member_type(op.cap.in_service, op.cap.retired))
    frame = frame.with_columns(hifp_pay=hifp, _remaining=remaining)

    budget = pl.col("_remaining") * BP_ONE
    within = pl.lit(0, pl.Int64)
    done = pl.lit(False)
    for part, ratio in zip(parts, ratios, strict=True):
        cost = part * ratio
        fits = cost <= budget
        within = within + pl.when(done).then(0).when(fits).then(part).otherwise(
            _half_up(budget, pl.max_horizontal(ratio, 1)))
        budget = pl.when(fits).then(budget - cost).otherwise(budget)
        done = done | ~fits
    over = pl.when(pl.col("_raw") > pl.col("_remaining")).then(pl.col("_eligible") - within).otherwise(0)
    frame = frame.with_columns(over_cap_amt=over)

    if op.cap.above == "inpatient":
        ip = version.inpatient
        inpatient_raw = _half_up(pl.col("over_cap_amt") * _ratio(ip.ratios), BP_ONE)
        inpatient, _ = _capped(inpatient_raw, _by_member_type(ip.cap.in_service, ip.cap.retired))
        frame = frame.with_columns(inpatient_pay=inpatient)
    else:
        frame = frame.with_columns(inpatient_pay=pl.lit(0, pl.Int64))
    frame = frame.with_columns(psn_part_amt=pl.col("covered") - pl.col("hifp_pay") - pl.col("inpatient_pay"))
    return frame.select(*visits.columns, *RESULT_COLUMNS)
