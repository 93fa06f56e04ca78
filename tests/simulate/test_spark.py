"""The Spark formulation settles a population's visits exactly as the Polars engine does (Spark in local mode)."""

import shutil
import sys
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs java on PATH", allow_module_level=True)

from pyspark.errors import PySparkException  # noqa: E402

from gongji.engine.terms import compile_terms  # noqa: E402
from gongji.engine.vectorized import RESULT_COLUMNS, FrameError, adjudicate_frame  # noqa: E402
from gongji.simulate import spark as sp  # noqa: E402
from tests.engine.strategies import with_inpatient_deductible  # noqa: E402

SCHEMA = {"psn": pl.Int64, "date": pl.Date, "retired": pl.Boolean, "age": pl.Int64, "level": pl.Int64,
          "pharmacy": pl.Boolean, "prescribed": pl.Boolean, "covered": pl.Int64}
SPARK_SCHEMA = ("psn long, date date, retired boolean, age long, level long, pharmacy boolean, prescribed boolean, "
                "covered long, seq long")


@pytest.fixture(scope="module")
def spark():
    session = sp.session("local[2]", app_name="gongji-test")
    yield session
    session.stop()


def _random_visits(seed: int = 20240601, members: int = 200) -> pl.DataFrame:
    """About 5,000 visits of 200 members over 2024 and 2025, shuffled; `seq` is the row index.

    Retirees of 66-74 (Yunnan's and 990100's age bands at 70) have birthdays within the year, some in-service
    members of 59 retire at the turn of the year, some members see the doctor several times a day, amounts are
    heavy-tailed with zeros, and one member in six is a heavy user who passes the caps and cost bands."""
    rng = np.random.default_rng(seed)
    rows = []
    for psn in rng.permutation(np.arange(1000, 1000 + members)).tolist():
        retired = rng.random() < 0.35
        age = int(rng.integers(66, 75) if retired else rng.integers(20, 60))
        birthday = date(2024, 1, 1) + timedelta(days=int(rng.integers(0, 366)))
        heavy = rng.random() < 1 / 6
        for year in (2024, 2025):
            if year == 2025 and not retired and age >= 59 and rng.random() < 0.5:
                retired = True  # retires at the turn of the year: a new type for the new settlement year
            days = sorted(int(d) for d in rng.integers(0, 365, int(rng.integers(0, 25))))
            for day in days:
                when = date(year, 1, 1) + timedelta(days=day)
                for _ in range(1 + (rng.random() < 0.25) + (rng.random() < 0.1)):  # same-day visits
                    kind = rng.random()
                    if kind < 0.1:
                        covered = 0
                    elif heavy and kind < 0.7:
                        covered = int(rng.integers(300_000, 3_000_000))
                    elif kind < 0.75:
                        covered = int(rng.lognormal(np.log(15_000), 1.2))
                    else:
                        covered = int(rng.lognormal(np.log(150_000), 1.0))
                    rows.append((psn, when, retired, age + (year - 2024) + ((when.month, when.day) >= (
                        birthday.month, birthday.day)), int(rng.integers(1, 4)), bool(rng.random() < 0.25),
                        bool(rng.random() < 0.7), covered))
    frame = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    return frame.sample(fraction=1.0, shuffle=True, seed=seed).with_row_index(sp.SEQ).with_columns(
        pl.col(sp.SEQ).cast(pl.Int64))


@pytest.fixture(scope="module")
def visits(tmp_path_factory):
    """The random visits, and the same in a Parquet file for Spark, in another order: only `seq` says which of a
    member's visits on one date comes first."""
    frame = _random_visits()
    path = tmp_path_factory.mktemp("visits") / "visits.parquet"
    frame.sample(fraction=1.0, shuffle=True, seed=1).write_parquet(path)
    return frame, path


def _through_parquet(frame, path) -> pl.DataFrame:
    """A Spark result read back with Polars, in `seq` order."""
    frame.write.mode("overwrite").parquet(str(path))
    return pl.read_parquet(path / "*.parquet").sort(sp.SEQ)


def test_the_random_visits_are_what_the_comparisons_need(visits):
    frame, _path = visits
    assert 3000 <= frame.height <= 8000
    assert frame.select(pl.struct("psn", "date").is_duplicated().sum()).item() > 100
    assert frame.filter(pl.col("retired") & pl.col("age").is_between(69, 70)).height > 50
    assert frame.filter(pl.col("covered") == 0).height > 100
    assert frame["covered"].max() >= 2_000_000
    assert frame.filter(pl.col("pharmacy") & ~pl.col("prescribed")).height > 100


POLICIES = [
    pytest.param("321000", date(2024, 6, 1), id="yangzhou-annual-deductible-cap-pharmacy"),
    pytest.param("530000", date(2025, 6, 1), id="yunnan-per-visit-deductible-over-cap-to-inpatient"),
    pytest.param("321000", date(2022, 6, 1), id="yangzhou-pre-reform-no-pooling"),
    pytest.param("000000", date(2025, 6, 1), id="national-template"),
    pytest.param("990100", date(2025, 6, 1), id="test-region-topup-age-bands-cost-bands"),
]


@pytest.mark.parametrize(("region", "on"), POLICIES)
def test_spark_settles_every_visit_as_polars_does(spark, book, visits, tmp_path, region, on):
    _assert_agree(spark, compile_terms(book.policy_for(region, on)), visits, tmp_path)


def test_spark_agrees_with_an_inpatient_deductible(spark, book, visits, tmp_path):
    # no shipped file sets one; the inpatient deductible owed once a year by cost above the cap
    version = with_inpatient_deductible(book.policy_for("990100", date(2025, 6, 1)), "300.00", "50.00")
    _assert_agree(spark, compile_terms(version), visits, tmp_path)


def _assert_agree(spark, terms, visits, tmp_path):
    frame, path = visits
    expected = adjudicate_frame(terms, frame).select(sp.SEQ, *RESULT_COLUMNS).sort(sp.SEQ)
    result = sp.adjudicate(terms, spark.read.parquet(str(path)))
    assert {f.name: f.dataType.simpleString() for f in result.schema.fields if f.name in RESULT_COLUMNS} == \
        dict.fromkeys(RESULT_COLUMNS, "bigint")
    got = _through_parquet(result.select(sp.SEQ, *RESULT_COLUMNS), tmp_path / "out")
    assert got.height == frame.height
    joined = expected.join(got, on=sp.SEQ, suffix="_spark")
    mismatches = joined.filter(pl.any_horizontal(pl.col(c) != pl.col(f"{c}_spark") for c in RESULT_COLUMNS))
    assert mismatches.height == 0, mismatches.head(5)
    assert_frame_equal(got, expected)
    if terms.pooled:  # the comparison is not vacuous
        assert expected["hifp_pay"].sum() > 0


def test_without_seq_the_input_order_breaks_ties(spark, book, visits, tmp_path):
    frame, _path = visits
    path = tmp_path / "visits.parquet"
    frame.drop(sp.SEQ).write_parquet(path)  # one small file: one partition, ids in row order
    terms = compile_terms(book.policy_for("990100", date(2025, 6, 1)))
    result = sp.adjudicate(terms, spark.read.parquet(str(path)))
    assert sp.SEQ in result.columns
    got = _through_parquet(result.select(sp.SEQ, *RESULT_COLUMNS), tmp_path / "out")
    assert_frame_equal(got, adjudicate_frame(terms, frame).select(sp.SEQ, *RESULT_COLUMNS).sort(sp.SEQ))


def test_same_day_visits_settle_in_seq_order(spark, book):
    """Yangzhou 2024 (321000.yaml) in service at level 1: annual deductible 600.00, then 70 %."""
    terms = compile_terms(book.policy_for("321000", date(2024, 6, 1)))
    day = date(2024, 3, 1)
    # given in the other order; seq says 500.00 came first
    rows = [(1, day, False, 40, 1, False, True, 30_000, 1), (1, day, False, 40, 1, False, True, 50_000, 0)]
    result = sp.adjudicate(terms, spark.createDataFrame(rows, SPARK_SCHEMA))
    got = sorted(result.select("seq", "act_pay_dedc", "hifp_pay", "psn_part_amt").collect())
    # 500.00 all deductible; then 300.00: the 100.00 still owed, (300 - 100) x 70 % = 140.00, member 160.00
    assert [tuple(r) for r in got] == [(0, 50_000, 0, 50_000), (1, 10_000, 14_000, 16_000)]


def test_a_visit_past_the_cap_and_into_the_next_cost_band(spark, book):
    """990100 in service at level 1: deductible 100.00 (with top-up), 70 % up to 20,000.00 of the year's covered
    cost and 60 % above, here a cap of 10,000.00 (the file says 30,000.00), above it the inpatient benefit at 90 %
    up to 1,000.00."""
    terms = compile_terms(book.policy_for("990100", date(2025, 6, 1)))
    terms = replace(terms, table={key: t._replace(cap=1_000_000) for key, t in terms.table.items()})
    rows = [(7, date(2025, 3, 1), False, 40, 1, False, True, 1_400_000, 0),
            (7, date(2025, 4, 1), False, 40, 1, False, True, 610_000, 1)]
    got = sorted(sp.adjudicate(terms, spark.createDataFrame(rows, SPARK_SCHEMA))
                 .select("seq", *RESULT_COLUMNS).collect())
    expected = [
        # 14,000.00: 100.00 deductible, 13,900 x 70 % = 9,730.00 paid; 270.00 of the cap left
        (0, 10_000, 973_000, 7_000, 0, 0, 0, 427_000),
        # 6,100.00 from 14,000.00 to 20,100.00: 6,000 at 70 % and 100 at 60 % = 4,260.00 > 270.00 left, which
        # covers 270 / 0.7 = 385.71 of the first band and nothing of the second: 6,100 - 385.71 = 5,714.29 over
        # the cap; x 90 % = 5,142.86, capped at 1,000.00; the member 6,100 - 270 - 1,000 = 4,830.00
        (1, 0, 27_000, 7_000, 571_429, 0, 100_000, 483_000),
    ]
    assert [tuple(r) for r in got] == expected
    polars_rows = adjudicate_frame(terms, pl.DataFrame([r[:-1] for r in rows], schema=SCHEMA, orient="row"))
    assert polars_rows.select(RESULT_COLUMNS).rows() == [r[1:] for r in expected]


def test_huge_amounts_stay_exact(spark, book):
    """The national template (annual deductible 1,000.00, 50 %) with a cap of 9,000,000,000,000.00 yuan and a visit
    of 2,754,518,816,802.15 yuan: in basis points the payment is past 2^53, where a double loses the last fen."""
    terms = compile_terms(book.policy_for("000000", date(2025, 6, 1)))
    terms = replace(terms, table={key: t._replace(cap=9 * 10**14) for key, t in terms.table.items()})
    rows = [(1, date(2025, 3, 1), False, 40, 2, False, True, 100_000 + 275_451_881_679_115, 0)]
    got = sp.adjudicate(terms, spark.createDataFrame(rows, SPARK_SCHEMA)).select(*RESULT_COLUMNS).collect()
    # 275,451,881,679,115 fen after the deductible x 50 % = 137,725,940,839,557.5 -> half-up ...558 (a double: ...557)
    expected = (100_000, 137_725_940_839_558, 5_000, 0, 0, 0, 100_000 + 275_451_881_679_115 - 137_725_940_839_558)
    assert tuple(got[0]) == expected
    assert adjudicate_frame(terms, pl.DataFrame([rows[0][:-1]], schema=SCHEMA, orient="row")) \
        .select(RESULT_COLUMNS).row(0) == expected


@pytest.mark.parametrize(("change", "message"), [
    ({"level": 4}, "level: 4 is not 1, 2 or 3"),
    ({"covered": -1}, "covered: negative amounts"),
])
def test_bad_rows_fail_the_job(spark, book, change, message):
    row = {"psn": 1, "date": date(2024, 3, 1), "retired": False, "age": 40, "level": 1, "pharmacy": False,
           "prescribed": True, "covered": 100, "seq": 0} | change
    for region, on in (("321000", date(2024, 6, 1)), ("321000", date(2022, 6, 1))):  # pooled and not
        result = sp.adjudicate(compile_terms(book.policy_for(region, on)),
                               spark.createDataFrame([tuple(row.values())], SPARK_SCHEMA))
        with pytest.raises(PySparkException, match=message):
            result.collect()


def test_a_type_change_within_a_year_fails_the_job(spark, book):
    rows = [(1, date(2024, 3, 1), False, 59, 1, False, True, 100, 0), (1, date(2024, 9, 1), True, 60, 1, False,
                                                                        True, 100, 1)]
    result = sp.adjudicate(compile_terms(book.policy_for("321000", date(2024, 6, 1))),
                           spark.createDataFrame(rows, SPARK_SCHEMA))
    with pytest.raises(PySparkException, match="type changes within a settlement year"):
        result.collect()


def test_missing_columns(spark, book):
    with pytest.raises(FrameError, match=r"lacks columns \['date', 'retired', 'age'"):
        sp.adjudicate(compile_terms(book.policy_for("321000", date(2024, 6, 1))),
                      spark.createDataFrame([(1,)], "psn long"))


def _write_population(folder):
    members = pl.DataFrame({
        "psn": [1, 2, 3],
        "sex": ["1", "2", "1"],
        "birth_date": [date(1956, 2, 29), date(1990, 7, 15), date(1955, 3, 1)],
        "retired": [True, False, True],
        "contribution_base": [Decimal("0.00"), Decimal("8000.00"), Decimal("0.00")],
        "pension": [Decimal("3000.00"), Decimal("0.00"), Decimal("2500.50")],
        "prev_year_credit": [None, Decimal("1920.00"), Decimal("1272.00")],
        "household": [1, 2, 3],
        "relation": ["self", "self", "self"],
    }, schema_overrides={c: pl.Decimal(18, 2) for c in ("contribution_base", "pension", "prev_year_credit")})
    visits = pl.DataFrame({
        "psn": [1, 1, 1, 2, 2, 2, 3, 3],
        "date": [date(2024, 2, 29), date(2025, 2, 28), date(2025, 3, 1), date(2025, 7, 14), date(2025, 7, 15),
                 date(2025, 7, 15), date(2025, 2, 28), date(2025, 3, 1)],
        "level": [1, 2, 3, 1, 1, 3, 2, 2],
        "pharmacy": [False, False, True, False, True, False, False, False],
        "prescribed": [True, True, False, True, True, True, True, True],
        "covered": ["123.45", "0.07", "99999999.99", "0.00", "500.00", "300.10", "1.00", "10.50"],
    }, schema_overrides={"level": pl.Int8}).with_columns(pl.col("covered").str.to_decimal(scale=2).cast(
        pl.Decimal(18, 2)))
    members.write_parquet(folder / "members.parquet")
    visits.write_parquet(folder / "visits.parquet")


def test_population_frame(spark, tmp_path):
    _write_population(tmp_path)
    frame = sp.population_frame(spark, tmp_path / "members.parquet", tmp_path / "visits.parquet")
    assert [(f.name, f.dataType.simpleString()) for f in frame.schema.fields] == [
        ("psn", "bigint"), ("date", "date"), ("retired", "boolean"), ("age", "bigint"), ("level", "bigint"),
        ("pharmacy", "boolean"), ("prescribed", "boolean"), ("covered", "bigint"), ("seq", "bigint")]
    got = [(r.psn, r.date, r.retired, r.age, r.covered, r.seq) for r in frame.orderBy("seq").collect()]
    assert got == [
        # born 29 Feb 1956: 68 on 29 Feb 2024 (2024 - 1956); in 2025 still 68 on 28 Feb, 69 on 1 Mar
        (1, date(2024, 2, 29), True, 68, 12_345, 0),  # 123.45 yuan = 12345 fen
        (1, date(2025, 2, 28), True, 68, 7, 1),
        (1, date(2025, 3, 1), True, 69, 9_999_999_999, 2),  # 99999999.99 yuan, exactly
        # born 15 Jul 1990: 34 the day before the birthday, 35 on it (twice that day, in file order)
        (2, date(2025, 7, 14), False, 34, 0, 3),
        (2, date(2025, 7, 15), False, 35, 50_000, 4),
        (2, date(2025, 7, 15), False, 35, 30_010, 5),
        # born 1 Mar 1955: 69 on 28 Feb 2025, 70 on 1 Mar 2025
        (3, date(2025, 2, 28), True, 69, 100, 6),
        (3, date(2025, 3, 1), True, 70, 1_050, 7),
    ]


def test_population_frame_refuses_a_visit_without_a_member(spark, tmp_path):
    _write_population(tmp_path)
    members = pl.read_parquet(tmp_path / "members.parquet").filter(pl.col("psn") != 3)
    members.write_parquet(tmp_path / "members.parquet")
    frame = sp.population_frame(spark, tmp_path / "members.parquet", tmp_path / "visits.parquet")
    with pytest.raises(PySparkException, match="psn: 3 has visits but no row in members.parquet"):
        frame.collect()


def test_population_frame_refuses_inexact_amounts(spark, tmp_path):
    _write_population(tmp_path)
    visits = pl.read_parquet(tmp_path / "visits.parquet").with_columns(pl.col("covered").cast(pl.Float64))
    visits.write_parquet(tmp_path / "visits.parquet")
    with pytest.raises(FrameError, match="covered: double is not yuan as a decimal with two places"):
        sp.population_frame(spark, tmp_path / "members.parquet", tmp_path / "visits.parquet")


def test_member_totals_are_the_polars_sums(spark, book, visits):
    frame, path = visits
    terms = compile_terms(book.policy_for("990100", date(2025, 6, 1)))
    expected = adjudicate_frame(terms, frame).group_by("psn").agg(
        pl.len().cast(pl.Int64).alias("visits"), *(pl.col(c).sum() for c in sp.TOTAL_COLUMNS[1:])).sort("psn")
    totals = sp.member_totals(terms, spark.read.parquet(str(path)))
    got = pl.DataFrame([tuple(r) for r in totals.collect()], schema=expected.schema, orient="row").sort("psn")
    assert got.height == frame["psn"].n_unique()
    assert_frame_equal(got, expected)
    assert got["inpatient_pay"].sum() > 0


def test_member_totals_of_a_population_folder(spark, book, tmp_path):
    """Yunnan (530000.yaml), deductible 20/40/60 yuan at every visit, 60/55/50 % in service, 70/65/60 % retired,
    a pharmacy without a prescription not pooled."""
    _write_population(tmp_path)
    terms = compile_terms(book.policy_for("530000", date(2025, 6, 1)))
    frame = sp.population_frame(spark, tmp_path / "members.parquet", tmp_path / "visits.parquet")
    got = {r.psn: tuple(r)[1:] for r in sp.member_totals(terms, frame).collect()}
    # member 1 (retired): 123.45 at level 1: 20.00 deductible, 103.45 x 70 % = 72.415 -> 72.42; 0.07 at level 2:
    #   all deductible; 99999999.99 at an unprescribed pharmacy: nothing
    # member 2 (in service): 0.00; 500.00 prescribed at a pharmacy, prescriber level 1: 20.00, 480 x 60 % = 288.00;
    #   300.10 at level 3: 60.00, 240.10 x 50 % = 120.05
    # member 3 (retired, level 2): 1.00 and 10.50 all deductible (40.00 a visit)
    assert got == {
        1: (3, 12_345 + 7 + 9_999_999_999, 7_242, 0, 2_000 + 7),
        2: (3, 50_000 + 30_010, 28_800 + 12_005, 0, 2_000 + 6_000),
        3: (2, 1_150, 0, 0, 1_150),
    }


def test_without_pyspark_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(sp.SparkMissing, match=r"pyspark is not installed: pip install 'gongji\[spark\]'"):
        sp.session()


def test_session_honours_spark_master(monkeypatch, spark):
    # the module's session is already running: getOrCreate hands it back whatever the master asked for,
    # so only the choice of master is checked here
    calls = []

    class Builder:
        def master(self, master):
            calls.append(master)
            return self

        def __getattr__(self, name):
            return lambda *args, **kwargs: self

        def getOrCreate(self):
            return spark

    import pyspark.sql

    monkeypatch.setattr(pyspark.sql.SparkSession, "builder", Builder())
    monkeypatch.setenv("SPARK_MASTER", "spark://cluster:7077")
    sp.session()
    sp.session("yarn")
    monkeypatch.delenv("SPARK_MASTER")
    sp.session()
    assert calls == ["spark://cluster:7077", "yarn", "local[*]"]


def test_a_simulation_on_spark_equals_the_polars_one(spark, book, tmp_path):
    """`gongji simulate --engine spark`: the same population read from its folder by Spark gives every member's
    outcome equal to the Polars run, under a pre-reform version against Yunnan's over-cap rule."""
    from gongji.simulate import population, synth, whatif

    folder = tmp_path / "pop"
    population.save(synth.synthesize(1_500, "321000", 2024, seed=11), folder)
    pop = population.load(folder)
    a = whatif.scenario("--a", "321000@2022-06-01", book)
    b = whatif.scenario("--b", "530000@2025-06-01", book)
    on_polars = whatif.simulate(pop, a, b, book).outcomes
    on_spark = whatif.simulate(pop, a, b, book, sp.settler(folder)).outcomes
    assert on_polars["reimbursed_b"].sum() > 0
    assert on_spark.sort("psn").equals(on_polars.sort("psn"))
