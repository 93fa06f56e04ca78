"""Rules about one line or one claim, read against the knowledge base: sex, age, newborn and child limits,
institution level, med_type, work-injury and maternity only, never paid, price, days and quantity on a
prescription, frequency within a day, items not billed together, indications, diagnosis against sex and age."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import polars as pl

from gongji.engine.dates import age_at, month_day
from gongji.money import MoneyError, format_yuan, yuan_to_fen
from gongji.monitor.batch import Frames, batch, claim_findings, line_findings, restrictions
from gongji.monitor.checkers import (
    CLAIM,
    DEFINITE,
    DRUG,
    MATERIAL,
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


# ----------------------------------------------------------------------------------------------------------------
# Helpers shared by the rules below: the same text and the same numbers online and in the batch.

AGE_DAYS = (pl.col("on") - pl.col("birth_date")).dt.total_days()
"""Claim.age_days as a Polars expression (over a frame carrying the claim's columns)."""
AGE = age_at(pl.col("birth_date"), pl.col("on").dt.year(), month_day(pl.col("on")))
"""Claim.age (周岁) as a Polars expression."""


def quantity_text(quantity: Decimal) -> str:
    """A quantity as the evidence shows it, without trailing zeros: Decimal("2.5000") -> "2.5", 100 -> "100"."""
    return format(quantity.normalize(), "f")


def _quantity_text_expr(quantity: pl.Expr) -> pl.Expr:
    """`quantity_text` of a Decimal column (its text always has the scale's decimals)."""
    return quantity.cast(pl.String).str.strip_chars_end("0").str.strip_chars_end(".")


def _limit_set_expr(limit: pl.Expr) -> pl.Expr:
    """Restriction.limit_set of a limit column, as a list of strings."""
    parts = limit.str.split(",").list.eval(pl.element().str.strip_chars())
    return parts.list.eval(pl.element().filter(pl.element() != ""))


def _in_force(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows whose restriction (begndate, enddate) covers the claim's date `on`."""
    return frame.filter((pl.col("begndate") <= pl.col("on"))
                        & (pl.col("enddate").is_null() | (pl.col("on") <= pl.col("enddate"))))


def _simple_line_rule(rule: str, claim: Claim, context: Context, hit, **evidence) -> list[Finding]:
    """Findings on every line whose `rule` restriction r in force satisfies hit(r); evidence(r) the text."""
    found = []
    for line in claim.lines:
        r = context.knowledge.find(rule, line.code, claim.on)
        if r and hit(r):
            found.append(line_finding(rule, claim, line, context, **{k: v(r) for k, v in evidence.items()}))
    return found


# ----------------------------------------------------------------------------------------------------------------
# Age: newborn, child, child_forbidden, elderly.


@checker("newborn", {DRUG: "GZ10000101006000", SERVICE: "GZ10000102005000", MATERIAL: "GZ10000103001000"}, DEFINITE)
def newborn(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限新生儿使用: an item paid only for newborns (at most `limit` days old), for an older member."""
    return _simple_line_rule("newborn", claim, context, lambda r: claim.age_days > r.limit_int(),
                             limit=lambda r: r.limit, age_days=lambda _r: claim.age_days)


@batch("newborn")
def newborn_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "newborn").with_columns(_days=AGE_DAYS)
    hits = rows.filter(pl.col("_days") > pl.col("limit").cast(pl.Int64))
    return line_findings("newborn", hits, pl.format("limit={}; age_days={}", "limit", "_days"))


@checker("child", {DRUG: "GZ10000101007000", SERVICE: "GZ10000102006000", MATERIAL: "GZ10000103002000"}, DEFINITE)
def child(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限儿童使用: an item paid only for members under `limit` full years, for a member of that age or older.

    The findings carry the payment-policy codes (药品限儿童使用, 医疗服务项目限儿童使用, 耗材限儿童使用). The medical
    rules 药品儿童专用 (GZ10000301002000) and 医疗服务项目儿童专用 (GZ10000302003000) are the same check on the same
    data; their knowledge points load as `child` restrictions and their hits are reported under the codes above."""
    return _simple_line_rule("child", claim, context, lambda r: claim.age >= r.limit_int(),
                             limit=lambda r: r.limit, age=lambda _r: claim.age)


@batch("child")
def child_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "child").with_columns(_age=AGE)
    hits = rows.filter(pl.col("_age") >= pl.col("limit").cast(pl.Int64))
    return line_findings("child", hits, pl.format("limit={}; age={}", "limit", "_age"))


@checker("child_forbidden", {DRUG: "GZ10000301003000"}, SUSPICIOUS)
def child_forbidden(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """药品儿童禁用: a drug not for members under `limit` full years, for a younger member (for review)."""
    return _simple_line_rule("child_forbidden", claim, context, lambda r: claim.age < r.limit_int(),
                             limit=lambda r: r.limit, age=lambda _r: claim.age)


@batch("child_forbidden")
def child_forbidden_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "child_forbidden").with_columns(_age=AGE)
    hits = rows.filter(pl.col("_age") < pl.col("limit").cast(pl.Int64))
    return line_findings("child_forbidden", hits, pl.format("limit={}; age={}", "limit", "_age"))


@checker("elderly", {DRUG: "GZ10000301009000"}, SUSPICIOUS)
def elderly(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """老年人用药安全: a drug with a warning for members of `limit` full years and over, for such a member."""
    return _simple_line_rule("elderly", claim, context, lambda r: claim.age >= r.limit_int(),
                             limit=lambda r: r.limit, age=lambda _r: claim.age)


@batch("elderly")
def elderly_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "elderly").with_columns(_age=AGE)
    hits = rows.filter(pl.col("_age") >= pl.col("limit").cast(pl.Int64))
    return line_findings("elderly", hits, pl.format("limit={}; age={}", "limit", "_age"))


# ----------------------------------------------------------------------------------------------------------------
# Where and how: level, med_type, work_injury, maternity, not_paid.


@checker("level", {DRUG: "GZ10000101012000", SERVICE: "GZ10000102011000"}, DEFINITE)
def level(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限医疗机构级别: an item paid only at institutions of level `limit` or higher, at a lower one (at a pharmacy
    the prescriber's level). Materials have no national code of their own and take the drug's."""
    return _simple_line_rule("level", claim, context, lambda r: claim.level < r.limit_int(),
                             limit=lambda r: r.limit, level=lambda _r: claim.level)


@batch("level")
def level_batch(frames: Frames) -> pl.DataFrame:
    hits = restrictions(frames, "level").filter(pl.col("level") < pl.col("limit").cast(pl.Int64))
    return line_findings("level", hits, pl.format("limit={}; level={}", "limit", "level"))


@checker("med_type", {DRUG: "药品限就医方式", SERVICE: "GZ10000102009000"}, DEFINITE)
def med_type(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限就医方式: an item paid only under the med_types of `limit` (comma-separated), under another one."""
    return _simple_line_rule("med_type", claim, context, lambda r: claim.med_type not in r.limit_set(),
                             limit=lambda r: r.limit, med_type=lambda _r: claim.med_type)


@batch("med_type")
def med_type_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "med_type")
    hits = rows.filter(~_limit_set_expr(pl.col("limit")).list.contains(pl.col("med_type")))
    return line_findings("med_type", hits, pl.format("limit={}; med_type={}", "limit", "med_type"))


def _restricted_at_all(rule: str, claim: Claim, context: Context) -> list[Finding]:
    """Findings on every line of an item with a `rule` restriction in force: the restriction alone is the
    violation (every claim here is settled by the medical insurance). The evidence is the restriction's start."""
    return _simple_line_rule(rule, claim, context, lambda _r: True, since=lambda r: r.begndate)


def _restricted_at_all_batch(frames: Frames, rule: str) -> pl.DataFrame:
    return line_findings(rule, restrictions(frames, rule), pl.format("since={}", "begndate"))


@checker("work_injury", {DRUG: "GZ10000101001000", SERVICE: "GZ10000102003000"}, DEFINITE)
def work_injury(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限工伤保险: an item paid only by work-injury insurance (工伤保险), settled by the medical insurance."""
    return _restricted_at_all("work_injury", claim, context)


@batch("work_injury")
def work_injury_batch(frames: Frames) -> pl.DataFrame:
    return _restricted_at_all_batch(frames, "work_injury")


@checker("maternity", {DRUG: "GZ10000101002000", SERVICE: "GZ10000102004000"}, DEFINITE)
def maternity(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限生育保险: an item paid only by maternity insurance (生育保险), settled by the medical insurance."""
    return _restricted_at_all("maternity", claim, context)


@batch("maternity")
def maternity_batch(frames: Frames) -> pl.DataFrame:
    return _restricted_at_all_batch(frames, "maternity")


@checker("not_paid", {DRUG: "GZ10000101003000"}, DEFINITE)
def not_paid(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """不予支付: an item the fund never pays (中药饮片单复方均不予支付 for decoction pieces, alone or in a formula)
    on a claim."""
    return _restricted_at_all("not_paid", claim, context)


@batch("not_paid")
def not_paid_batch(frames: Frames) -> pl.DataFrame:
    return _restricted_at_all_batch(frames, "not_paid")


# ----------------------------------------------------------------------------------------------------------------
# How much: price, max_days, max_quantity, daily_frequency.


@checker("price", {SERVICE: "GZ10000102001000"}, DEFINITE)
def price(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """超限定单价收费: a unit price above the restriction's `limit` yuan. Both sides in fen: the line's price is
    its 4-decimal price rounded half-up, the limit has at most two decimals (money.yuan_to_fen), so a price equal
    to the limit never hits."""
    found = []
    for line in claim.lines:
        r = context.knowledge.find("price", line.code, claim.on)
        if r and line.price > yuan_to_fen(r.limit):
            found.append(line_finding("price", claim, line, context, limit=r.limit, price=format_yuan(line.price)))
    return found


@batch("price")
def price_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "price")
    bad = rows.filter(~pl.col("limit").str.strip_chars().str.contains(r"^[+-]?\d+(\.\d{1,2})?$"))
    if bad.height:
        yuan_to_fen(bad["limit"][0])  # raises MoneyError naming the value, as the online check does
        raise MoneyError(f"{bad['limit'][0]!r} is not an amount in yuan (price limit)")
    limit_fen = (pl.col("limit").str.strip_chars().cast(pl.Decimal(18, 2)) * 100).cast(pl.Int64)
    hits = rows.filter(pl.col("price") > limit_fen)
    yuan = pl.format("{}.{}", pl.col("price") // 100, (pl.col("price") % 100).cast(pl.String).str.zfill(2))
    return line_findings("price", hits, pl.format("limit={}; price={}", "limit", yuan))


@checker("max_days", {DRUG: "GZ10000101009000"}, DEFINITE)
def max_days(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限最大开药天数: a line's supply days above its restriction's `limit`, or, for any drug, above the region's
    long-prescription cap (长处方, thresholds.max_supply_days). The evidence names the lower of the two limits that
    apply (by=restriction or by=max_supply_days; the restriction on a tie)."""
    found = []
    cap = context.thresholds.max_supply_days
    for line in claim.lines:
        if line.days is None:
            continue
        limits = []
        r = context.knowledge.find("max_days", line.code, claim.on)
        if r:
            limits.append((r.limit_int(), "restriction"))
        if context.kind(line.code) == DRUG:
            limits.append((cap, "max_supply_days"))
        if limits:
            limit, by = min(limits, key=lambda pair: pair[0])
            if line.days > limit:
                found.append(line_finding("max_days", claim, line, context, limit=limit, days=line.days, by=by))
    return found


@batch("max_days")
def max_days_batch(frames: Frames) -> pl.DataFrame:
    cap = frames.context.thresholds.max_supply_days
    own = restrictions(frames, "max_days").select("key", "sn", _own=pl.col("limit").cast(pl.Int64))
    rows = frames.lines.filter(pl.col("days").is_not_null()).join(own, on=["key", "sn"], how="left")
    rows = rows.with_columns(_cap=pl.when(pl.col("kind") == DRUG).then(pl.lit(cap, pl.Int64)))
    by_own = pl.col("_own").is_not_null() & (pl.col("_cap").is_null() | (pl.col("_own") <= pl.col("_cap")))
    rows = rows.with_columns(_limit=pl.when(by_own).then("_own").otherwise("_cap"),
                             _by=pl.when(by_own).then(pl.lit("restriction")).otherwise(pl.lit("max_supply_days")))
    hits = rows.filter(pl.col("days") > pl.col("_limit"))
    return line_findings("max_days", hits, pl.format("limit={}; days={}; by={}", "_limit", "days", "_by"))


@checker("max_quantity", {DRUG: "GZ10000101009000"}, DEFINITE)
def max_quantity(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限开药量: the quantity of an item on the claim (its lines summed) above the restriction's `limit` (in
    `unit`). One finding per item, on its first line (lowest sn, that line's amount at stake), with the claim's
    total in the evidence."""
    totals: dict[str, Decimal] = {}
    first: dict[str, Line] = {}
    for line in sorted(claim.lines, key=lambda x: x.sn):
        totals[line.code] = totals.get(line.code, Decimal(0)) + line.quantity
        first.setdefault(line.code, line)
    found = []
    for code, line in first.items():
        r = context.knowledge.find("max_quantity", code, claim.on)
        if r and totals[code] > Decimal(r.limit):
            found.append(line_finding("max_quantity", claim, line, context, limit=r.limit, unit=r.unit,
                                      quantity=quantity_text(totals[code])))
    return found


@batch("max_quantity")
def max_quantity_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "max_quantity")
    rows = rows.with_columns(_total=pl.col("quantity").sum().over("key", "code"),
                             _first=pl.col("sn").min().over("key", "code"))
    hits = rows.filter((pl.col("sn") == pl.col("_first"))
                       & (pl.col("_total") > pl.col("limit").cast(pl.Decimal(38, 4))))
    return line_findings("max_quantity", hits, pl.format("limit={}; unit={}; quantity={}", "limit", "unit",
                                                         _quantity_text_expr(pl.col("_total"))))


REPEATED_CHARGE = "GZ10000102012000"
"""医疗服务项目重复收费."""
SERVICE_AND_MATERIAL_CHARGE = "医疗服务项目与医用耗材重复收费"
"""2025 edition, no code: a material already included in a service's price billed beside it."""


@checker("daily_frequency", {SERVICE: "GZ10000102014000"}, DEFINITE)
def daily_frequency(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限定频次: an item billed more than `limit` times on one claim (one day at one institution). The times are
    the units (quantities) of the item's lines counted in line order; every line that takes the count past the
    limit is a finding (the charges beyond it), `times` the count up to and including that line. The code is
    医疗服务项目限定频次 (GZ10000102014000), or 医疗服务项目重复收费 (GZ10000102012000) when the limit is 1 (no
    second charge at all), whatever the item's kind."""
    counts: dict[str, Decimal] = {}
    found = []
    for line in sorted(claim.lines, key=lambda x: x.sn):
        r = context.knowledge.find("daily_frequency", line.code, claim.on)
        if r is None:
            continue
        counts[line.code] = counts.get(line.code, Decimal(0)) + line.quantity
        limit = r.limit_int()
        if counts[line.code] > limit:
            f = line_finding("daily_frequency", claim, line, context, limit=r.limit,
                             times=quantity_text(counts[line.code]))
            found.append(f._replace(code=REPEATED_CHARGE) if limit == 1 else f)
    return found


@batch("daily_frequency")
def daily_frequency_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "daily_frequency")
    rows = rows.with_columns(_times=pl.col("quantity").cum_sum().over("key", "code", order_by="sn"),
                             _limit=pl.col("limit").cast(pl.Int64))
    hits = rows.filter(pl.col("_times") > pl.col("_limit").cast(pl.Decimal(38, 4)))
    found = line_findings("daily_frequency", hits,
                          pl.format("limit={}; times={}", "limit", _quantity_text_expr(pl.col("_times"))))
    return found.with_columns(code=pl.when(hits["_limit"] == 1).then(pl.lit(REPEATED_CHARGE))
                              .otherwise(pl.col("code")))


# ----------------------------------------------------------------------------------------------------------------
# Together: exclusive.


@checker("exclusive", {SERVICE: REPEATED_CHARGE, MATERIAL: SERVICE_AND_MATERIAL_CHARGE}, DEFINITE)
def exclusive(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """重复收费: two items never billed together on one day, on one claim. A restriction (code, other_code) binds
    both ways; the finding is on the later line of the pair (by sn), naming the first earlier line it clashes with.
    The code is 医疗服务项目与医用耗材重复收费 when one of the pair is a service and the other a material,
    医疗服务项目重复收费 (GZ10000102012000) otherwise."""
    lines = sorted(claim.lines, key=lambda x: x.sn)
    partners = {code: {r.other_code for r in context.knowledge.find_all("exclusive", code, claim.on)}
                for code in {line.code for line in lines}}
    found = []
    for i, line in enumerate(lines):
        for earlier in lines[:i]:
            if earlier.code in partners[line.code] or line.code in partners[earlier.code]:
                pair = {context.kind(line.code), context.kind(earlier.code)}
                code = SERVICE_AND_MATERIAL_CHARGE if pair == {SERVICE, MATERIAL} else REPEATED_CHARGE
                f = line_finding("exclusive", claim, line, context, other_code=earlier.code, other_line=earlier.sn)
                found.append(f._replace(code=code))
                break
    return found


@batch("exclusive")
def exclusive_batch(frames: Frames) -> pl.DataFrame:
    kb = frames.knowledge.filter(pl.col("rule") == "exclusive").select("code", "other_code", "begndate", "enddate")
    pairs = pl.concat([kb.select("begndate", "enddate", _a="code", _b="other_code"),
                       kb.select("begndate", "enddate", _a="other_code", _b="code")])
    codes = pl.concat([kb["code"], kb["other_code"]]).unique()
    lines = frames.lines.filter(pl.col("code").is_in(codes.implode()))
    earlier = lines.select("key", _b=pl.col("code"), _esn=pl.col("sn"), _ekind=pl.col("kind"))
    rows = lines.join(pairs, left_on="code", right_on="_a").join(earlier, on=["key", "_b"])
    rows = _in_force(rows.filter(pl.col("_esn") < pl.col("sn")))
    rows = rows.filter(pl.col("_esn") == pl.col("_esn").min().over("key", "sn")).unique(["key", "sn"])
    is_pair = ((pl.col("kind") == SERVICE) & (pl.col("_ekind") == MATERIAL)) | (
        (pl.col("kind") == MATERIAL) & (pl.col("_ekind") == SERVICE))
    found = line_findings("exclusive", rows, pl.format("other_code={}; other_line={}", "_b", "_esn"))
    return found.with_columns(code=pl.when(rows.select(is_pair).to_series()).then(pl.lit(SERVICE_AND_MATERIAL_CHARGE))
                              .otherwise(pl.lit(REPEATED_CHARGE)))


# ----------------------------------------------------------------------------------------------------------------
# Diagnoses: indication, diagnosis_sex, diagnosis_age; drug_count.


@checker("indication", {DRUG: "GZ10000101008000", SERVICE: "GZ10000102007000", MATERIAL: "医用耗材限疾病使用"},
         SUSPICIOUS)
def indication(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """限适应症: an item paid only with a diagnosis starting with one of the `limit` prefixes, on a claim with no
    such diagnosis (for review: the diagnosis may be missing rather than wrong)."""
    return _simple_line_rule(
        "indication", claim, context,
        lambda r: not any(d.startswith(tuple(r.limit_set())) for d in claim.diagnoses),
        limit=lambda r: r.limit, diagnoses=lambda _r: ",".join(claim.diagnoses))


@batch("indication")
def indication_batch(frames: Frames) -> pl.DataFrame:
    rows = restrictions(frames, "indication").with_row_index("_row")
    pairs = rows.select("_row", _p=_limit_set_expr(pl.col("limit")), _d=pl.col("diagnoses")).explode("_p").explode("_d")
    matched = pairs.filter(pl.col("_d").str.starts_with(pl.col("_p"))).select("_row").unique()
    hits = rows.join(matched, on="_row", how="anti").sort("_row")
    return line_findings("indication", hits,
                         pl.format("limit={}; diagnoses={}", "limit", pl.col("diagnoses").list.join(",")))


def _diagnosis_rule(rule: str, claim: Claim, context: Context, fits, value: str, shown) -> list[Finding]:
    """Claim findings, one per distinct diagnosis whose longest-prefix `rule` restriction r fails fits(r)."""
    found = []
    for diagnosis in dict.fromkeys(claim.diagnoses):
        r = context.knowledge.by_prefix(rule, diagnosis, claim.on)
        if r and not fits(r):
            found.append(claim_finding(rule, claim, diagnosis=diagnosis, prefix=r.code, limit=r.limit,
                                       **{value: shown}))
    return found


def _diagnosis_restrictions(frames: Frames, rule: str) -> pl.DataFrame:
    """One row per claim and distinct diagnosis (in the claim's order) with its longest-prefix `rule` restriction
    in force (`_prefix`, `limit`); diagnoses without one dropped."""
    kb = frames.knowledge.filter(pl.col("rule") == rule).select(_prefix="code", limit="limit", begndate="begndate",
                                                                 enddate="enddate")
    # only the claims with diagnoses, only their key and date, and only the prefix lengths the knowledge base
    # has: the claim's other columns are joined back to the few rows that match
    lengths = sorted(set(kb["_prefix"].str.len_chars().to_list())) or [1]
    diagnoses = (frames.claims.select("key", "on", "diagnoses").filter(pl.col("diagnoses").list.len() > 0)
                 .with_columns(_pos=pl.int_ranges(pl.col("diagnoses").list.len()))
                 .explode("diagnoses", "_pos").rename({"diagnoses": "_diagnosis"})
                 .unique(["key", "_diagnosis"], keep="first", maintain_order=True))
    prefixes = diagnoses.with_columns(_n=pl.lit(lengths, dtype=pl.List(pl.UInt32))).explode("_n") \
        .filter(pl.col("_n") <= pl.col("_diagnosis").str.len_chars())
    prefixes = prefixes.with_columns(_prefix=pl.col("_diagnosis").str.slice(0, pl.col("_n")))
    rows = _in_force(prefixes.join(kb, on="_prefix"))
    rows = rows.filter(pl.col("_n") == pl.col("_n").max().over("key", "_diagnosis"))
    return rows.join(frames.claims.drop("on", "diagnoses"), on="key").sort("key", "_pos")


@checker("diagnosis_sex", {CLAIM: "GZ10000204006000"}, DEFINITE, apart_by="diagnosis")
def diagnosis_sex(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """诊断与患者性别不符: a diagnosis whose restriction (the longest prefix of its code in the knowledge base)
    names the other sex. One finding per such diagnosis."""
    return _diagnosis_rule("diagnosis_sex", claim, context, lambda r: r.limit == claim.sex, "sex", claim.sex)


@batch("diagnosis_sex")
def diagnosis_sex_batch(frames: Frames) -> pl.DataFrame:
    hits = _diagnosis_restrictions(frames, "diagnosis_sex").filter(pl.col("limit") != pl.col("sex"))
    return claim_findings("diagnosis_sex", hits, pl.format("diagnosis={}; prefix={}; limit={}; sex={}",
                                                           "_diagnosis", "_prefix", "limit", "sex"))


@checker("diagnosis_age", {CLAIM: "GZ10000204007000"}, DEFINITE, apart_by="diagnosis")
def diagnosis_age(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """诊断与患者年龄不符: a diagnosis whose restriction (the longest prefix) allows ages `limit` (MIN-MAX full
    years) the member is outside of. One finding per such diagnosis."""
    age = claim.age

    def fits(r: Restriction) -> bool:
        low, high = r.limit_range()
        return low <= age <= high

    return _diagnosis_rule("diagnosis_age", claim, context, fits, "age", age)


@batch("diagnosis_age")
def diagnosis_age_batch(frames: Frames) -> pl.DataFrame:
    rows = _diagnosis_restrictions(frames, "diagnosis_age")
    bounds = pl.col("limit").str.split_exact("-", 1).struct
    rows = rows.with_columns(_age=AGE, _low=bounds.field("field_0").replace("", "0").cast(pl.Int64),
                             _high=bounds.field("field_1").fill_null("").replace("", "150").cast(pl.Int64))
    hits = rows.filter((pl.col("_age") < pl.col("_low")) | (pl.col("_age") > pl.col("_high")))
    return claim_findings("diagnosis_age", hits, pl.format("diagnosis={}; prefix={}; limit={}; age={}",
                                                           "_diagnosis", "_prefix", "limit", "_age"))


WHOLE_CLAIM = "*"
"""The code of a restriction about the whole claim rather than an item (drug_count)."""


@checker("drug_count", {CLAIM: "GZ10000202004000"}, SUSPICIOUS)
def drug_count(claim: Claim, _history: Sequence[Claim], context: Context) -> list[Finding]:
    """药品种类超标: more distinct drugs on one claim (one prescription) than the `limit` of the drug_count
    restriction on code "*" in force."""
    r = context.knowledge.find("drug_count", WHOLE_CLAIM, claim.on)
    if r is None:
        return []
    drugs = len({line.code for line in claim.lines if context.kind(line.code) == DRUG})
    return [claim_finding("drug_count", claim, limit=r.limit, drugs=drugs)] if drugs > r.limit_int() else []


@batch("drug_count")
def drug_count_batch(frames: Frames) -> pl.DataFrame:
    kb = frames.knowledge.filter((pl.col("rule") == "drug_count") & (pl.col("code") == WHOLE_CLAIM))
    counts = (frames.lines.filter(pl.col("kind") == DRUG).group_by("key")
              .agg(_drugs=pl.col("code").n_unique()))
    rows = _in_force(frames.claims.join(kb.select("limit", "begndate", "enddate"), how="cross"))
    rows = rows.join(counts, on="key", how="left").with_columns(pl.col("_drugs").fill_null(0))
    hits = rows.filter(pl.col("_drugs") > pl.col("limit").cast(pl.Int64))
    return claim_findings("drug_count", hits, pl.format("limit={}; drugs={}", "limit", "_drugs"))
