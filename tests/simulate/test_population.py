"""Population folders: saved and loaded exactly (fen -> Decimal yuan -> fen), imported from a bureau's CSV or
Parquet extracts with every bad row refused by file, row, column and value (nothing written), and the engines'
visit frame with each visit's age in full years."""

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongji.engine.dates import age_on
from gongji.simulate.population import (
    MEMBER_COLUMNS,
    VISIT_COLUMNS,
    YUAN,
    Population,
    PopulationError,
    check,
    engine_frame,
    import_extract,
    load,
    save,
)

YEAR = 2023
MEMBERS = [
    {"psn": "1", "sex": "1", "birth_date": "1960-02-29", "retired": "1", "contribution_base": "0",
     "pension": "3500.01", "prev_year_credit": "", "household": "1", "relation": "self"},
    {"psn": "2", "sex": "2", "birth_date": "1990-05-05", "retired": "false", "contribution_base": "5123.45",
     "pension": "0.00", "prev_year_credit": "1000.06", "household": "1", "relation": "spouse"},
    {"psn": "3", "sex": "2", "birth_date": "1935-12-31", "retired": "TRUE", "contribution_base": "0",
     "pension": "2000", "prev_year_credit": "0.5", "household": "1", "relation": "parent"},
]
VISITS = [
    {"psn": "1", "date": "2023-02-28", "level": "2", "pharmacy": "y", "prescribed": "0", "covered": "0.99"},
    {"psn": "2", "date": "2023-03-01", "level": "1", "pharmacy": "N", "prescribed": "1", "covered": "100.5"},
    {"psn": "1", "date": "2023-01-15", "level": "3", "pharmacy": "0", "prescribed": "true", "covered": "12345.67"},
    {"psn": "3", "date": "2023-12-31", "level": "1", "pharmacy": "0", "prescribed": "1", "covered": "0"},
]


def _csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    columns = columns or list(rows[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _extracts(tmp_path: Path, members=None, visits=None, member_columns=None, visit_columns=None):
    return (_csv(tmp_path / "members.csv", MEMBERS if members is None else members, member_columns),
            _csv(tmp_path / "visits.csv", VISITS if visits is None else visits, visit_columns))


def _changed(rows: list[dict], index: int, **values) -> list[dict]:
    rows = [dict(r) for r in rows]
    rows[index].update(values)
    return rows


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_import_from_csv_reads_yuan_as_fen(tmp_path):
    members, visits = _extracts(tmp_path)
    pop = import_extract(members, visits, "321000", YEAR, tmp_path / "pop")
    m = pop.members
    assert m.schema == {**MEMBER_COLUMNS, "contribution_base": pl.Int64, "pension": pl.Int64,
                        "prev_year_credit": pl.Int64}
    # 3500.01 yuan = 350001 fen; 5123.45 = 512345; "2000" = 200000; "0.5" = 50; empty stays empty
    assert m["pension"].to_list() == [350_001, 0, 200_000]
    assert m["contribution_base"].to_list() == [0, 512_345, 0]
    assert m["prev_year_credit"].to_list() == [None, 100_006, 50]
    assert m["retired"].to_list() == [True, False, True]  # "1", "false", "TRUE"
    assert m["birth_date"].to_list() == [date(1960, 2, 29), date(1990, 5, 5), date(1935, 12, 31)]
    # sorted by member and date; 0.99 = 99 fen, 12345.67 = 1234567, 100.5 = 10050
    v = pop.visits
    assert v.select("psn", "date", "covered").rows() == [
        (1, date(2023, 1, 15), 1_234_567), (1, date(2023, 2, 28), 99), (2, date(2023, 3, 1), 10_050),
        (3, date(2023, 12, 31), 0)]
    assert v["pharmacy"].to_list() == [False, True, False, False]  # "0", "y", "N", "0"
    assert v["prescribed"].to_list() == [True, False, True, True]
    assert v["level"].dtype == pl.Int8 and v["level"].to_list() == [3, 2, 1, 1]
    meta = json.loads((tmp_path / "pop" / "population.json").read_text(encoding="utf-8"))
    assert meta | {"members_file": "", "visits_file": ""} == {
        "source": "import", "members_file": "", "visits_file": "", "region": "321000", "year": YEAR, "members": 3,
        "visits": 4}
    assert meta["members_file"] == str(members)


def test_an_imported_folder_loads_back_the_same(tmp_path):
    members, visits = _extracts(tmp_path)
    pop = import_extract(members, visits, "321000", YEAR, tmp_path / "pop")
    back = load(tmp_path / "pop")
    assert back.members.equals(pop.members) and back.visits.equals(pop.visits)
    assert (back.region, back.year, back.meta["source"]) == ("321000", YEAR, "import")


def test_a_csv_with_a_byte_order_mark_and_crlf(tmp_path):
    members, visits = _extracts(tmp_path)
    members.write_bytes(b"\xef\xbb\xbf" + members.read_bytes().replace(b"\n", b"\r\n"))
    pop = import_extract(members, visits, "321000", YEAR, tmp_path / "pop")
    assert pop.members["psn"].to_list() == [1, 2, 3]


def _typed_parquet(tmp_path: Path) -> tuple[Path, Path]:
    """The CSV extracts as a database would unload them: dates, booleans, Decimal(18,2) yuan."""
    m = pl.DataFrame({
        "psn": [1, 2, 3], "sex": ["1", "2", "2"],
        "birth_date": [date(1960, 2, 29), date(1990, 5, 5), date(1935, 12, 31)], "retired": [True, False, True],
        "contribution_base": [Decimal("0"), Decimal("5123.45"), Decimal("0")],
        "pension": [Decimal("3500.01"), Decimal("0"), Decimal("2000")],
        "prev_year_credit": [None, Decimal("1000.06"), Decimal("0.50")],
        "household": [1, 1, 1], "relation": ["self", "spouse", "parent"],
    }, schema_overrides={c: YUAN for c in ("contribution_base", "pension", "prev_year_credit")})
    v = pl.DataFrame({
        "psn": [1, 2, 1, 3], "date": [date(2023, 2, 28), date(2023, 3, 1), date(2023, 1, 15), date(2023, 12, 31)],
        "level": [2, 1, 3, 1], "pharmacy": [True, False, False, False], "prescribed": [False, True, True, True],
        "covered": [Decimal("0.99"), Decimal("100.50"), Decimal("12345.67"), Decimal("0")],
    }, schema_overrides={"covered": YUAN, "level": pl.Int8})
    m.write_parquet(tmp_path / "members.parquet")
    v.write_parquet(tmp_path / "visits.parquet")
    return tmp_path / "members.parquet", tmp_path / "visits.parquet"


def test_import_from_parquet_equals_import_from_csv(tmp_path):
    from_csv = import_extract(*_extracts(tmp_path), "321000", YEAR, tmp_path / "a")
    from_parquet = import_extract(*_typed_parquet(tmp_path), "321000", YEAR, tmp_path / "b")
    assert from_parquet.members.equals(from_csv.members)
    assert from_parquet.visits.equals(from_csv.visits)


def test_parquet_with_other_types_is_read_as_text(tmp_path):
    """Whole-number yuan as integers, psn as text, a wider Decimal: converted as CSV text would be."""
    members, visits = _typed_parquet(tmp_path)
    pl.read_parquet(visits).with_columns(pl.col("covered").cast(pl.Decimal(38, 2)), pl.col("psn").cast(pl.String)) \
        .write_parquet(visits)
    pl.read_parquet(members).with_columns(pl.col("pension").cast(pl.Int64)).write_parquet(members)
    pop = import_extract(members, visits, "321000", YEAR, tmp_path / "pop")
    assert pop.members["pension"].to_list() == [350_000, 0, 200_000]  # 3500.01 -> 3500 as an integer column
    assert pop.visits["covered"].to_list() == [1_234_567, 99, 10_050, 0]


def test_save_and_load_are_exact(tmp_path):
    """fen -> Decimal(18,2) yuan on disk -> fen, for odd fen, the largest amounts and empty values."""
    big = 9_999_999_999_999_999  # 99,999,999,999,999.99 yuan: 16 digits, what the cast to Decimal(18,2) holds
    members = pl.DataFrame({
        "psn": [5, 7], "sex": ["2", "1"], "birth_date": [date(1964, 2, 29), date(2000, 1, 1)],
        "retired": [True, False], "contribution_base": [0, 512_345], "pension": [1, 0],
        "prev_year_credit": [None, big], "household": [None, 3], "relation": [None, "child"],
    }, schema_overrides={"prev_year_credit": pl.Int64, "household": pl.Int64, "relation": pl.String})
    visits = pl.DataFrame({
        "psn": [5, 5, 7], "date": [date(2023, 1, 1), date(2023, 1, 1), date(2023, 12, 31)],
        "level": pl.Series([1, 3, 2], dtype=pl.Int8), "pharmacy": [False, True, False],
        "prescribed": [True, False, True], "covered": [99, 1, big],
    })
    pop = check(members, visits, "530925", YEAR, {"source": "synth", "seed": 3})
    save(pop, tmp_path / "pop")
    on_disk = pl.read_parquet(tmp_path / "pop" / "members.parquet")
    assert on_disk.schema == MEMBER_COLUMNS
    assert on_disk["contribution_base"].to_list() == [Decimal("0.00"), Decimal("5123.45")]
    assert on_disk["pension"].to_list() == [Decimal("0.01"), Decimal("0.00")]
    assert on_disk["prev_year_credit"].to_list() == [None, Decimal("99999999999999.99")]
    visits_on_disk = pl.read_parquet(tmp_path / "pop" / "visits.parquet")
    assert visits_on_disk.schema == VISIT_COLUMNS
    assert visits_on_disk["covered"].to_list() == [Decimal("0.99"), Decimal("0.01"), Decimal("99999999999999.99")]
    back = load(tmp_path / "pop")
    assert back.members.equals(pop.members) and back.visits.equals(pop.visits)
    assert (back.region, back.year) == ("530925", YEAR)
    assert back.meta == {"source": "synth", "seed": 3, "region": "530925", "year": YEAR, "members": 2, "visits": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pop"]  # no staging folder left behind


def test_load_without_the_visits(tmp_path):
    """For an engine that reads visits.parquet itself: the members checked, no visits, their count from
    population.json."""
    import_extract(*_extracts(tmp_path), "321000", YEAR, tmp_path / "pop")
    pop = load(tmp_path / "pop", with_visits=False)
    assert pop.members["pension"].to_list() == [350_001, 0, 200_000]
    assert pop.visits.height == 0 and pop.visits.schema == {**VISIT_COLUMNS, "covered": pl.Int64}
    assert pop.visit_count == 4


def test_save_refuses_a_folder_holding_a_population(tmp_path):
    members, visits = _extracts(tmp_path)
    import_extract(members, visits, "321000", YEAR, tmp_path / "pop")
    before = _files(tmp_path / "pop")
    members, visits = _extracts(tmp_path, visits=VISITS[:1])
    with pytest.raises(PopulationError) as err:
        import_extract(members, visits, "321000", YEAR, tmp_path / "pop")
    assert str(err.value) == f"--out {tmp_path / 'pop'}: already holds a population (give another folder)"
    assert _files(tmp_path / "pop") == before
    pop = import_extract(members, visits, "321000", YEAR, tmp_path / "pop", replace=True)
    assert load(tmp_path / "pop").visits.equals(pop.visits) and pop.visits.height == 1


def test_save_into_an_empty_folder(tmp_path):
    (tmp_path / "pop").mkdir()
    import_extract(*_extracts(tmp_path), "321000", YEAR, tmp_path / "pop")
    assert sorted(_files(tmp_path / "pop")) == ["members.parquet", "population.json", "visits.parquet"]


BAD_MEMBERS = [
    (_changed(MEMBERS, 1, contribution_base="5123.456"),
     "members.csv row 2: contribution_base: '5123.456' is not an amount in yuan with at most two decimals"),
    (_changed(MEMBERS, 0, pension="3,500.00"),
     "members.csv row 1: pension: '3,500.00' is not an amount in yuan with at most two decimals"),
    (_changed(MEMBERS, 2, prev_year_credit="1e3"),
     "members.csv row 3: prev_year_credit: '1e3' is not an amount in yuan with at most two decimals"),
    (_changed(MEMBERS, 1, birth_date="1990-02-30"), "members.csv row 2: birth_date: '1990-02-30' is not a date"),
    (_changed(MEMBERS, 1, birth_date="05/05/1990"), "members.csv row 2: birth_date: '05/05/1990' is not a date"),
    (_changed(MEMBERS, 2, psn="1"), "members.csv row 3: psn: 1 appears more than once"),
    (_changed(MEMBERS, 1, psn="x2"), "members.csv row 2: psn: 'x2' is not a whole number"),
    (_changed(MEMBERS, 1, sex="3"), "members.csv row 2: sex: '3' is not 1 (male) or 2 (female)"),
    (_changed(MEMBERS, 0, sex="M"), "members.csv row 1: sex: 'M' is not 1 (male) or 2 (female)"),
    (_changed(MEMBERS, 2, relation="cousin"),
     "members.csv row 3: relation: 'cousin' is not one of self, spouse, parent, child"),
    (_changed(MEMBERS, 1, retired="maybe"),
     "members.csv row 2: retired: 'maybe' is not a yes/no value (1/0, true/false)"),
    (_changed(MEMBERS, 1, contribution_base=""), "members.csv row 2: contribution_base: empty"),
    (_changed(MEMBERS, 2, retired=""), "members.csv row 3: retired: empty"),
    (_changed(MEMBERS, 0, household="one"), "members.csv row 1: household: 'one' is not a whole number"),
]
BAD_VISITS = [
    (_changed(VISITS, 1, level="4"), "visits.csv row 2: level: 4 is not 1, 2 or 3"),
    (_changed(VISITS, 3, level="0"), "visits.csv row 4: level: 0 is not 1, 2 or 3"),
    (_changed(VISITS, 0, level="II"), "visits.csv row 1: level: 'II' is not a whole number"),
    (_changed(VISITS, 1, covered="100.505"),
     "visits.csv row 2: covered: '100.505' is not an amount in yuan with at most two decimals"),
    (_changed(VISITS, 1, covered="¥100"),
     "visits.csv row 2: covered: '¥100' is not an amount in yuan with at most two decimals"),
    (_changed(VISITS, 2, date="2023-13-01"), "visits.csv row 3: date: '2023-13-01' is not a date (YYYY-MM-DD)"),
    (_changed(VISITS, 2, date="2024-01-01"), "visits.csv row 3: date: 2024-01-01 is not in the year 2023"),
    (_changed(VISITS, 0, date="2022-12-31"), "visits.csv row 1: date: 2022-12-31 is not in the year 2023"),
    (_changed(VISITS, 3, psn="9"), "visits.csv row 4: psn: 9 is not a member"),
    (_changed(VISITS, 1, pharmacy="sometimes"),
     "visits.csv row 2: pharmacy: 'sometimes' is not a yes/no value (1/0, true/false)"),
    (_changed(VISITS, 1, prescribed="yes"),
     "visits.csv row 2: prescribed: 'yes' is not a yes/no value (1/0, true/false)"),
    (_changed(VISITS, 2, covered=""), "visits.csv row 3: covered: empty"),
    (_changed(VISITS, 2, date=""), "visits.csv row 3: date: empty"),
]


@pytest.mark.parametrize(("members", "visits", "message"), [
    *((rows, None, message) for rows, message in BAD_MEMBERS),
    *((None, rows, message) for rows, message in BAD_VISITS),
])
def test_a_bad_row_is_refused_by_file_row_column_and_value(tmp_path, members, visits, message):
    out = tmp_path / "new" / "pop"
    with pytest.raises(PopulationError) as err:
        import_extract(*_extracts(tmp_path, members, visits), "321000", YEAR, out)
    assert str(err.value).startswith(message), str(err.value)
    assert not (tmp_path / "new").exists()


def test_a_negative_amount_is_refused(tmp_path):
    out = tmp_path / "pop"
    with pytest.raises(PopulationError) as err:
        import_extract(*_extracts(tmp_path, visits=_changed(VISITS, 1, covered="-1.00")), "321000", YEAR, out)
    assert str(err.value).startswith("visits.csv row 2: covered: ") and str(err.value).endswith(" is negative")
    assert not out.exists()
    with pytest.raises(PopulationError) as err:
        import_extract(*_extracts(tmp_path, members=_changed(MEMBERS, 0, pension="-0.01")), "321000", YEAR, out)
    assert str(err.value).startswith("members.csv row 1: pension: ") and str(err.value).endswith(" is negative")
    assert not out.exists()


def test_a_negative_amount_is_shown_as_the_files_yuan(tmp_path):
    with pytest.raises(PopulationError) as err:
        import_extract(*_extracts(tmp_path, visits=_changed(VISITS, 1, covered="-1.00")), "321000", YEAR,
                       tmp_path / "pop")
    assert str(err.value) == "visits.csv row 2: covered: -1.00 is negative"


def test_an_amount_too_large_is_refused(tmp_path):
    members = _changed(MEMBERS, 1, contribution_base="99999999999999999.00")
    with pytest.raises(PopulationError) as err:
        import_extract(*_extracts(tmp_path, members=members), "321000", YEAR, tmp_path / "pop")
    assert str(err.value).startswith("members.csv row 2: contribution_base: '99999999999999999.00' ")


def test_a_level_of_300_is_not_1_2_or_3(tmp_path):
    with pytest.raises(PopulationError) as err:
        import_extract(*_extracts(tmp_path, visits=_changed(VISITS, 1, level="300")), "321000", YEAR,
                       tmp_path / "pop")
    assert str(err.value) == "visits.csv row 2: level: 300 is not 1, 2 or 3"


@pytest.mark.parametrize(("which", "columns", "message"), [
    ("members", [c for c in MEMBERS[0] if c != "pension"], "members.csv: missing column pension"),
    ("members", [c for c in MEMBERS[0] if c not in ("sex", "retired")], "members.csv: missing column sex, retired"),
    ("visits", [c for c in VISITS[0] if c != "covered"], "visits.csv: missing column covered"),
    ("members", [*MEMBERS[0], "name"], "members.csv: unknown column name"),
    ("visits", [*VISITS[0], "cost", "fixmedins_code"], "visits.csv: unknown column cost, fixmedins_code"),
])
def test_a_missing_or_unknown_column_is_refused(tmp_path, which, columns, message):
    out = tmp_path / "pop"
    kwargs = {"member_columns": columns} if which == "members" else {"visit_columns": columns}
    with pytest.raises(PopulationError) as err:
        import_extract(*_extracts(tmp_path, **kwargs), "321000", YEAR, out)
    assert str(err.value) == message
    assert not out.exists()


def test_the_optional_columns_may_be_left_out(tmp_path):
    members, visits = _extracts(tmp_path, member_columns=["psn", "sex", "birth_date", "retired",
                                                          "contribution_base", "pension"],
                                visit_columns=["psn", "date", "level", "pharmacy", "covered"])
    pop = import_extract(members, visits, "321000", YEAR, tmp_path / "pop")
    assert pop.members["prev_year_credit"].to_list() == [None, None, None]
    assert pop.members["relation"].to_list() == [None, None, None]
    assert pop.visits["prescribed"].to_list() == [True] * 4  # without the column every visit counts as prescribed


def test_an_unreadable_or_missing_file(tmp_path):
    members, visits = _extracts(tmp_path)
    with pytest.raises(PopulationError, match=r"nothing\.csv: no such file"):
        import_extract(tmp_path / "nothing.csv", visits, "321000", YEAR, tmp_path / "pop")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(PopulationError, match=r"broken\.parquet: unreadable"):
        import_extract(members, tmp_path / "broken.parquet", "321000", YEAR, tmp_path / "pop")
    assert not (tmp_path / "pop").exists()


def test_the_region_must_be_six_digits(tmp_path):
    with pytest.raises(PopulationError, match=r"^region: '32100' is not a 6-digit admdvs$"):
        import_extract(*_extracts(tmp_path), "32100", YEAR, tmp_path / "pop")
    assert not (tmp_path / "pop").exists()


def test_load_refuses_what_is_not_a_population(tmp_path):
    with pytest.raises(PopulationError, match="not a population folder"):
        load(tmp_path)
    (tmp_path / "population.json").write_text("{not json")
    with pytest.raises(PopulationError, match=r"population\.json: unreadable"):
        load(tmp_path)
    (tmp_path / "population.json").write_text('{"region": "321000"}')
    with pytest.raises(PopulationError, match=r"population\.json: unreadable"):
        load(tmp_path)
    (tmp_path / "population.json").write_text('{"region": "321000", "year": 2023}')
    with pytest.raises(PopulationError, match=r"members\.parquet: no such file"):
        load(tmp_path)


def test_visits_are_sorted_by_member_then_date_keeping_the_files_order_within_a_day():
    members = pl.DataFrame({"psn": [2, 1], "sex": ["1", "2"], "birth_date": [date(1980, 1, 1)] * 2,
                            "retired": [False, True], "contribution_base": [100_000, 0], "pension": [0, 100_000],
                            "prev_year_credit": [None, None], "household": [None, None], "relation": [None, None]},
                           schema_overrides={"prev_year_credit": pl.Int64, "household": pl.Int64,
                                             "relation": pl.String})
    visits = pl.DataFrame({"psn": [2, 1, 2, 1, 1], "date": [date(2023, 5, 1), date(2023, 3, 1), date(2023, 1, 1),
                                                            date(2023, 3, 1), date(2023, 2, 1)],
                           "level": pl.Series([1] * 5, dtype=pl.Int8), "pharmacy": [False] * 5,
                           "prescribed": [True, None, True, True, True], "covered": [1, 2, 3, 4, 5]})
    pop = check(members, visits, "321000", YEAR)
    assert pop.visits["covered"].to_list() == [5, 2, 4, 3, 1]
    assert pop.visits["prescribed"].to_list() == [True, True, True, True, True]  # empty counts as prescribed


def _population(births: list[date], days: list[date], year: int) -> Population:
    n = len(births)
    members = pl.DataFrame({"psn": list(range(1, n + 1)), "sex": ["1"] * n, "birth_date": births,
                            "retired": [i % 2 == 0 for i in range(n)], "contribution_base": [0] * n,
                            "pension": [0] * n, "prev_year_credit": [None] * n, "household": [None] * n,
                            "relation": [None] * n},
                           schema_overrides={"prev_year_credit": pl.Int64, "household": pl.Int64,
                                             "relation": pl.String})
    psn = [1 + i % n for i in range(len(days))]
    visits = pl.DataFrame({"psn": psn, "date": days, "level": pl.Series([1] * len(days), dtype=pl.Int8),
                           "pharmacy": [False] * len(days), "prescribed": [True] * len(days),
                           "covered": list(range(len(days)))})
    return check(members, visits, "321000", year)


def test_engine_frame_ages_on_29_february_by_hand():
    births = [date(1964, 2, 29), date(1964, 2, 29), date(1964, 2, 29), date(1964, 2, 28), date(1964, 3, 1)]
    pop = _population(births, [date(2023, 2, 28), date(2023, 3, 1), date(2023, 12, 31), date(2023, 2, 28),
                               date(2023, 2, 28)], 2023)
    frame = engine_frame(pop)
    # born 29 Feb 1964: 58 on 28 Feb 2023, 59 from 1 March; born 28 Feb: 59 that day; born 1 March: still 58
    assert frame.select("psn", "date", "age").rows() == [
        (1, date(2023, 2, 28), 58), (2, date(2023, 3, 1), 59), (3, date(2023, 12, 31), 59),
        (4, date(2023, 2, 28), 59), (5, date(2023, 2, 28), 58)]
    leap = engine_frame(_population([date(1964, 2, 29)], [date(2024, 2, 28), date(2024, 2, 29)], 2024))
    assert leap["age"].to_list() == [59, 60]  # in a leap year on the day itself


def test_engine_frame_columns_and_order():
    pop = _population([date(1950, 6, 1), date(1985, 6, 1)], [date(2023, 6, 1), date(2023, 5, 31),
                                                              date(2023, 1, 2)], 2023)
    frame = engine_frame(pop)
    assert frame.columns == ["psn", "date", "retired", "age", "level", "pharmacy", "prescribed", "covered"]
    # visits (psn 1, 2, 1) sorted by psn then date; member 1 retired, 2 in service
    assert frame.select("psn", "date", "retired", "age", "covered").rows() == [
        (1, date(2023, 1, 2), True, 72, 2), (1, date(2023, 6, 1), True, 73, 0), (2, date(2023, 5, 31), False, 37, 1)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.dates(date(1920, 1, 1), date(2005, 12, 31)), st.integers(0, 365)), min_size=1,
                max_size=40),
       st.sampled_from([2023, 2024]))
def test_engine_frame_ages_equal_age_on(pairs, year):
    births = [b for b, _ in pairs] + [date(1960, 2, 29), date(1959, 3, 1)]
    start = date(year, 1, 1)
    days = [min(start + timedelta(days=d), date(year, 12, 31)) for _, d in pairs]
    days += [date(year, 2, 28), date(year, 3, 1), date(year, 2, 28), date(year, 3, 1)]
    pop = _population(births, days, year)
    frame = engine_frame(pop)
    birth_of = dict(zip(pop.members["psn"], pop.members["birth_date"], strict=True))
    expected = [age_on(birth_of[psn], day) for psn, day in zip(frame["psn"], frame["date"], strict=True)]
    assert frame["age"].to_list() == expected
    keys = list(zip(frame["psn"], frame["date"], strict=True))
    assert keys == sorted(keys)
