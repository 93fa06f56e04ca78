"""Rules about one line or one claim, read against the knowledge base: sex, age, newborn and child limits,
institution level, med_type, work-injury and maternity only, never paid, price, days and quantity on a
prescription, frequency within a day, items not billed together, indications, diagnosis against sex and age."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from gongji.engine.dates import age_at, month_day
from gongji.monitor.batch import Frames, batch, line_findings, restrictions
from gongji.monitor.checkers import DEFINITE, DRUG, MATERIAL, SERVICE, Context, Finding, checker, line_finding
from gongji.monitor.claims import Claim


@checker("sex", {DRUG: "GZ10000301004000", SERVICE: "GZ10000302004000", MATERIAL: "医用耗材与性别不符"}, DEFINITE)
def sex(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """区分性别使用: an item the knowledge base limits to one sex, for a member of the other."""
    found = []
    for line in claim.lines:
        r = context.knowledge.find("sex", line.code, claim.on)
        if r and r.limit != claim.sex:
            found.append(line_finding("sex", claim, line, context, limit=r.limit, sex=claim.sex))
    return found


@checker("age_range", {SERVICE: "医疗服务项目限年龄"}, DEFINITE)
def age_range(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限年龄: an item paid only for members of certain ages, for a member outside them."""
    found = []
    for line in claim.lines:
        r = context.knowledge.find("age_range", line.code, claim.on)
        if r:
            low, high = r.limit_range()
            if not low <= claim.age <= high:
                found.append(line_finding("age_range", claim, line, context, limit=r.limit, age=claim.age))
    return found


@batch("sex")
def sex_batch(frames: Frames) -> pl.DataFrame:
    hits = restrictions(frames, "sex").filter(pl.col("limit") != pl.col("sex"))
    return line_findings("sex", hits, pl.format("limit={}; sex={}", "limit", "sex"))


@batch("age_range")
def age_range_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "age_range")
    bounds = pl.col("limit").str.split_exact("-", 1).struct
    age = age_at(pl.col("birth_date"), pl.col("on").dt.year(), month_day(pl.col("on")))
    rows = rows.with_columns(_age=age, _low=bounds.field("field_0").replace("", "0").cast(pl.Int64),
                             _high=bounds.field("field_1").replace("", "150").cast(pl.Int64))
    hits = rows.filter((pl.col("_age") < pl.col("_low")) | (pl.col("_age") > pl.col("_high")))
    return line_findings("age_range", hits, pl.format("limit={}; age={}", "limit", "_age"))
