"""The vectorized outpatient engine (`gongji.engine.vectorized`) on Apache Spark, for populations past one machine
(national scale: about 370 million employee members).

The formulation is the Polars engine's, term for term: every accumulator of the sequential engine is a cumulative
sum over the member's visits of the settlement year, here a window function,

    Window.partitionBy("psn", year(date)).orderBy("date", "seq").rowsBetween(unboundedPreceding, currentRow).

Polars keeps the input order of a member's visits on the same date (a stable sort); a Spark shuffle does not, so
the order within a (member, date) is an explicit tie-breaker column `seq` (any sortable integer, e.g. the row
number of the visit file; `population_frame` takes the row index inside visits.parquet). A frame without one gets
`monotonically_increasing_id()`, taken on the frame as given, before this module shuffles anything: it follows the
input's partition order, which is the file order for a frame read straight from files, but is not stable after a
shuffle of the caller's (a join, a repartition); give `seq` in that case.

All amounts are 64-bit integers (fen, basis points) with integral division (`div`), never floats, and the session
runs with ANSI arithmetic, so an overflow fails the job instead of wrapping.

pyspark is an optional dependency (the `spark` extra); it is imported only when a function here is called.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from gongji.engine.terms import LevelTerms, OutpatientTerms, compile_terms
from gongji.engine.vectorized import RESULT_COLUMNS, VISIT_COLUMNS, FrameError
from gongji.money import BP_ONE
from gongji.policy.schema import Version
from gongji.policy.values import IN_SERVICE, LEVELS, RETIRED

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

SEQ = "seq"
"""The tie-breaker column: the order of a member's visits on the same date."""
TOTAL_COLUMNS = ("visits", "covered", "hifp_pay", "inpatient_pay", "act_pay_dedc")
"""`member_totals`' columns besides psn."""
_MISSING = "pyspark is not installed: pip install 'gongji[spark]'"


class SparkMissing(ImportError):
    """pyspark (the `spark` extra) is not installed."""


def _pyspark() -> Any:
    """The pyspark.sql module, or a clear error saying how to install it."""
    try:
        import pyspark.sql
    except ImportError as exc:
        raise SparkMissing(_MISSING) from exc
    return pyspark.sql


def _functions() -> Any:
    return _pyspark().functions


def session(master: str | None = None, app_name: str = "gongji-simulate") -> SparkSession:
    """A Spark session on `master` ("local[*]", "spark://host:7077", "yarn", "k8s://https://host:6443" ...);
    without one, the SPARK_MASTER environment variable, else local mode on every core.

    Local mode is kept quiet and small: no web UI or progress bar, 4 shuffle partitions, the driver bound to the
    loopback address.
    Every session reads and writes dates in UTC and runs ANSI arithmetic (integer overflow is an error). An existing
    session of this process is returned as it is (Spark allows one per JVM)."""
    sql = _pyspark()
    master = master or os.environ.get("SPARK_MASTER") or "local[*]"
    builder = (sql.SparkSession.builder.master(master).appName(app_name)
               .config("spark.sql.session.timeZone", "UTC").config("spark.sql.ansi.enabled", "true"))
    if master.startswith("local"):
        # read by the JVM at launch: bind to loopback and skip the warning about the host name
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", "4"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


# --- the engine ---------------------------------------------------------------------------------------------------

_WINDOW_KEYS = ("psn", "_year")


def _lit(value: int) -> Column:
    return _functions().lit(value).cast("long")


def _div(numerator: Column, denominator: Column | int) -> Column:
    """Integral division of longs (exact; equal to floor division for the non-negative amounts here)."""
    F = _functions()
    if isinstance(denominator, int):
        denominator = _lit(denominator)
    return F.call_function("div", numerator, denominator)


def _half_up_bp(weighted: Column) -> Column:
    """`gongji.money.half_up_bp`: a non-negative amount x basis points back to fen, half-up."""
    return _div(2 * weighted + BP_ONE, 2 * BP_ONE)


def _running_window() -> Any:
    """A member-year's visits from the first to the current one, in date order, then `seq`."""
    sql = _pyspark()
    return (sql.Window.partitionBy(*_WINDOW_KEYS).orderBy("date", SEQ)
            .rowsBetween(sql.Window.unboundedPreceding, sql.Window.currentRow))


def _running(x: Column | str) -> Column:
    """The cumulative sum of `x` over the member-year's visits so far, this one included."""
    return _functions().sum(x).over(_running_window())


def _key_column(terms: OutpatientTerms) -> Column:
    """Each visit's row of the terms table: level - 1 + 3 x (0 in service, 1 + retiree age band), as in the
    Polars engine."""
    F = _functions()
    band = _lit(1)
    for age in sorted(terms.retired_ages)[1:]:
        band = band + (F.col("age") >= age).cast("long")
    return F.col("_level") - 1 + 3 * F.when(F.col("_retired"), band).otherwise(_lit(0))


def _lookup(terms: OutpatientTerms, value: Callable[[str, LevelTerms], int]) -> Column:
    """A per-row column of value(member type, LevelTerms), by the row's `_key` (see `_key_column`)."""
    F = _functions()
    keys = [(IN_SERVICE, 0)] + [(RETIRED, age) for age in sorted(terms.retired_ages)]
    values = [value(member_type, terms.table[member_type, age, level]) for member_type, age in keys for level in LEVELS]
    return F.element_at(F.array(*(_lit(v) for v in values)), (F.col("_key") + 1).cast("int"))


def _checked(visits: DataFrame, pooled: bool) -> DataFrame:
    """The visits with `seq`, the year and checked copies of level, covered and (if `pooled`) retired.

    The checks ride along with the settlement instead of a pass of their own: a bad row fails the job when it
    is computed, with the Polars engine's message."""
    F = _functions()
    missing = [c for c in VISIT_COLUMNS if c not in visits.columns and c != "prescribed"]
    if missing:
        raise FrameError(f"visits frame lacks columns {missing}")
    if SEQ not in visits.columns:
        visits = visits.withColumn(SEQ, F.monotonically_increasing_id())
    level_text = F.coalesce(F.col("level").cast("string"), F.lit("null"))
    frame = visits.withColumns({
        "_year": F.year("date"),
        "_level": F.when(F.col("level").isin(*LEVELS), F.col("level").cast("long")).otherwise(
            F.raise_error(F.concat(F.lit("level: "), level_text, F.lit(" is not 1, 2 or 3")))),
        "_covered": F.when(F.col("covered") >= 0, F.col("covered").cast("long")).otherwise(
            F.raise_error(F.lit("covered: negative amounts"))),
        "_prescribed": F.col("prescribed") if "prescribed" in visits.columns else F.lit(True),
    })
    if pooled:
        flag, window = F.col("retired").cast("int"), _running_window()
        changed = F.raise_error(F.lit("retired: a member's type changes within a settlement year; settle it "
                                      "sequentially"))
        frame = frame.withColumn("_retired", F.when(F.min(flag).over(window) == F.max(flag).over(window),
                                                    F.col("retired")).otherwise(changed))
    return frame


def adjudicate(terms: OutpatientTerms, visits: DataFrame) -> DataFrame:
    """Settle every visit of `visits` under `terms`: `gongji.engine.vectorized.adjudicate_frame` on Spark.

    `visits` has the Polars engine's columns (VISIT_COLUMNS: psn, date, retired, age, level, pharmacy, optional
    prescribed, covered in fen) and optionally `seq`, the order of a member's visits on the same date (see the
    module docstring; assigned when absent). Returns the visits' columns, `seq`, and RESULT_COLUMNS (longs: fen and
    basis points), in no particular order. Bad rows (a level other than 1-3, a negative amount, a member's type
    changing within a year) fail the job when it runs, with the Polars engine's message; a version without pooling
    pays nothing and checks only level and covered."""
    F = _functions()
    frame = _checked(visits, terms.pooled)
    columns = [*visits.columns, *([] if SEQ in visits.columns else [SEQ])]
    if not terms.pooled:
        zero = _lit(0)
        return frame.select(*columns, *(zero.alias(c) for c in RESULT_COLUMNS[:-1]),
                            F.when(F.col("_level") > 0, F.col("_covered")).alias("psn_part_amt"))
    return _settle(terms, frame).select(*columns, *(F.col(c).cast("long") for c in RESULT_COLUMNS))


def _deductible(terms: OutpatientTerms, df: DataFrame) -> DataFrame:
    """act_pay_dedc: per visit, or accumulated over the year with top-up by tiers (see the Polars engine)."""
    F = _functions()
    own = _lookup(terms, lambda _m, t: t.deductible)
    if not terms.accumulates:
        return df.withColumn("act_pay_dedc", F.least(F.col("_c"), own))
    tiers = {member_type: sorted({terms.table[member_type, 0, level].deductible for level in LEVELS})
             for member_type in (IN_SERVICE, RETIRED)}
    df = df.withColumns({"_rank": _lookup(terms, lambda member_type, t: tiers[member_type].index(t.deductible)),
                         "act_pay_dedc": _lit(0)})
    rank, dedc = F.col("_rank"), F.col("act_pay_dedc")
    for k in range(max(len(t) for t in tiers.values())):
        # a member type with fewer tiers has no visit of rank k; any of its values will do
        tier = F.when(F.col("_retired"), _lit(tiers[RETIRED][min(k, len(tiers[RETIRED]) - 1)])) \
            .otherwise(_lit(tiers[IN_SERVICE][min(k, len(tiers[IN_SERVICE]) - 1)]))
        if k == 0:  # every visit is at least the lowest tier: the cumulative covered amount
            df = df.withColumns({"_x": F.col("_c"), "_paid": F.col("_cum_c")})
        else:
            df = df.withColumn("_x", F.when(rank >= k, F.col("_c")).otherwise(dedc))
            df = df.withColumn("_paid", _running("_x"))
        owed = F.least(tier, F.col("_paid")) - F.least(tier, F.col("_paid") - F.col("_x"))
        df = df.withColumn("act_pay_dedc", F.when(rank == k, owed).otherwise(dedc))
    return df


def _capped(df: DataFrame, raw: str, cap: Column, paid: str, remaining: str | None = None) -> DataFrame:
    """Payments `paid` of per-visit amounts `raw` against a per-member-year cap, and optionally the cap
    `remaining` before each visit."""
    F = _functions()
    df = df.withColumns({"_total": _running(raw), "_cap": cap})
    before = F.least(F.col("_total") - F.col(raw), F.col("_cap"))
    columns = {paid: F.least(F.col("_total"), F.col("_cap")) - before}
    if remaining:
        columns[remaining] = F.col("_cap") - before
    return df.withColumns(columns)


def _settle(terms: OutpatientTerms, df: DataFrame) -> DataFrame:
    """The settlement of a checked frame (see `_checked`), as a lazy Spark query."""
    F = _functions()
    pooled = ~F.col("pharmacy") | (F.col("_prescribed") & F.lit(terms.pharmacy_pooled))
    df = df.withColumns({"_pooled": pooled, "_key": _key_column(terms)})
    df = df.withColumn("_c", F.when(F.col("_pooled"), F.col("_covered")).otherwise(_lit(0)))
    df = df.withColumn("_cum_c", _running("_c"))
    df = _deductible(terms, df)

    edges = terms.edges
    df = df.withColumns({"_start": F.col("_cum_c") - F.col("_c") + F.col("act_pay_dedc"),
                         "_eligible": F.col("_c") - F.col("act_pay_dedc")})
    df = df.withColumns({f"_ratio{i}": _lookup(terms, lambda _m, t, i=i: t.ratios[i]) for i in range(len(edges))})
    ratios = [F.col(f"_ratio{i}") for i in range(len(edges))]
    if len(edges) == 1:
        df = df.withColumn("_part0", F.col("_eligible"))
        prop = ratios[0]
    else:
        end = F.col("_start") + F.col("_eligible")
        df = df.withColumns({
            f"_part{i}": F.greatest(F.least(end, _lit(edges[i + 1]) if i + 1 < len(edges) else end)
                                    - F.greatest(F.col("_start"), _lit(edge)), _lit(0))
            for i, edge in enumerate(edges)})
        prop = ratios[0]
        for edge, ratio in zip(edges[1:], ratios[1:], strict=True):
            prop = F.when(F.col("_start") >= edge, ratio).otherwise(prop)
    parts = [F.col(f"_part{i}") for i in range(len(edges))]
    weighted = parts[0] * ratios[0]
    for part, ratio in zip(parts[1:], ratios[1:], strict=True):
        weighted = weighted + part * ratio
    df = df.withColumns({"_raw": _half_up_bp(weighted), "pool_prop": F.when(F.col("_pooled"), prop).otherwise(0)})
    df = _capped(df, "_raw", _lookup(terms, lambda _m, t: t.cap), "hifp_pay", "_remaining")

    # the part of the eligible amount whose payment the remaining cap still covers (outpatient.within_cap);
    # one projection per band keeps the expression from growing with the number of bands
    df = df.withColumns({"_budget": F.col("_remaining") * BP_ONE, "_done": F.lit(False), "_within": _lit(0)})
    for part, ratio in zip(parts, ratios, strict=True):
        cost = part * ratio
        fits = cost <= F.col("_budget")
        # budget / ratio, half-up; a ratio of 0 always fits, the guard only keeps the division defined
        df = df.withColumns({
            "_within": F.col("_within") + F.when(F.col("_done"), _lit(0)).when(fits, part).otherwise(
                _div(2 * F.col("_budget") + ratio, 2 * F.greatest(ratio, _lit(1)))),
            "_budget": F.when(fits, F.col("_budget") - cost).otherwise(F.col("_budget")),
            "_done": F.col("_done") | ~fits})
    df = df.withColumn("over_cap_amt", F.when(F.col("_raw") > F.col("_remaining"),
                                              F.col("_eligible") - F.col("_within")).otherwise(_lit(0)))

    if terms.to_inpatient:
        if any(t.inpatient_deductible for t in terms.table.values()):
            # owed by the year's first over-cap cost: min(deductible, cumulative over-cap cost), differenced
            df = _capped(df, "over_cap_amt", _lookup(terms, lambda _m, t: t.inpatient_deductible), "inpatient_dedc")
        else:
            df = df.withColumn("inpatient_dedc", _lit(0))
        inpatient_ratio = _lookup(terms, lambda _m, t: t.inpatient_ratio)
        df = df.withColumn("_inpatient_raw",
                           _half_up_bp((F.col("over_cap_amt") - F.col("inpatient_dedc")) * inpatient_ratio))
        df = _capped(df, "_inpatient_raw", _lookup(terms, lambda _m, t: t.inpatient_cap), "inpatient_pay")
    else:
        df = df.withColumns({"inpatient_dedc": _lit(0), "inpatient_pay": _lit(0)})
    return df.withColumn("psn_part_amt", F.col("_covered") - F.col("hifp_pay") - F.col("inpatient_pay"))


# --- populations --------------------------------------------------------------------------------------------------


def population_frame(spark: SparkSession, members_path: str | Path, visits_path: str | Path) -> DataFrame:
    """The engines' visit frame of a population folder's members.parquet and visits.parquet (any path Spark
    reads: local, hdfs://, s3a:// ...).

    Visits join their member on psn: `retired` from the member, `age` in full years on the visit date (29 February
    birthdays turn on 1 March, as `gongji.engine.dates.age_on`), `covered` in fen (yuan x 100, exact), and `seq`,
    the visit's row index in its file, which keeps visits.parquet's order of a member's visits on one date. A visit
    whose psn has no member fails the job."""
    sql = _pyspark()
    F = sql.functions
    members = spark.read.parquet(str(members_path)).select(
        "psn", F.col("birth_date").alias("_birth"), F.col("retired").alias("_member_retired"))
    visits = spark.read.parquet(str(visits_path))
    covered_type = visits.schema["covered"].dataType
    if not isinstance(covered_type, sql.types.DecimalType) or covered_type.scale > 2:
        raise FrameError(f"covered: {covered_type.simpleString()} is not yuan as a decimal with two places")
    visits = visits.select("psn", "date", "level", "pharmacy", "prescribed", "covered",
                           F.col("_metadata.row_index").alias(SEQ))
    frame = visits.join(members, "psn", "left")
    day, birth = F.col("date"), F.col("_birth")
    before_birthday = (F.month(day) * 100 + F.dayofmonth(day)) < (F.month(birth) * 100 + F.dayofmonth(birth))
    retired = F.when(birth.isNotNull(), F.col("_member_retired")).otherwise(F.raise_error(F.concat(
        F.lit("psn: "), F.col("psn").cast("string"), F.lit(" has visits but no row in members.parquet"))))
    return frame.select(
        "psn", "date", retired.alias("retired"),
        (F.year(day) - F.year(birth) - before_birthday.cast("int")).cast("long").alias("age"),
        F.col("level").cast("long").alias("level"), "pharmacy", "prescribed",
        (F.col("covered") * 100).cast("long").alias("covered"), SEQ)


def member_totals(terms: OutpatientTerms, frame: DataFrame) -> DataFrame:
    """Each member's year(s) settled under `terms`, summed per psn: visits, covered, hifp_pay, inpatient_pay and
    act_pay_dedc (longs, fen). This, not the visits, is what a cluster run brings back to the driver."""
    F = _functions()
    settled = adjudicate(terms, frame)
    return settled.groupBy("psn").agg(
        F.count(F.lit(1)).cast("long").alias("visits"),
        *(F.sum(F.col(c).cast("long")).cast("long").alias(c) for c in TOTAL_COLUMNS[1:]))


def settler(folder: Path, master: str | None = None) -> Callable[[Version], pl.DataFrame]:
    """A `whatif.Settle` that settles the population in `folder` on Spark (Spark reads the folder's Parquet files
    itself, so the folder must be on storage the cluster reads) and brings each member's totals back to the driver
    as a Polars frame."""
    spark = session(master)
    frame = population_frame(spark, Path(folder) / "members.parquet", Path(folder) / "visits.parquet").cache()

    def settle(version: Version) -> pl.DataFrame:
        totals = member_totals(compile_terms(version), frame).select("psn", *TOTAL_COLUMNS[:4]).collect()
        return pl.DataFrame([tuple(row) for row in totals], schema={"psn": pl.Int64, "visits": pl.Int64,
                                                                     "covered": pl.Int64, "hifp_pay": pl.Int64,
                                                                     "inpatient_pay": pl.Int64}, orient="row")

    return settle
