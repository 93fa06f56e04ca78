"""A population for simulation (模拟人群): members and a year of their outpatient visits, as a folder of Parquet
files, whether generated (`gongji synth`) or imported from a bureau's extracts (`gongji import population`).

On disk money is Decimal(18,2) yuan, as a database extract carries it; in memory it is integer fen, as
everywhere in gongji. The folder holds members.parquet, visits.parquet (sorted by member and date) and
population.json (region, year, counts, where it came from).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from gongji.engine.dates import age_at, month_day
from gongji.errors import InputError
from gongji.money import format_yuan
from gongji.policy.values import LEVELS

YUAN = pl.Decimal(18, 2)
MEMBER_COLUMNS: dict[str, pl.DataType] = {
    "psn": pl.Int64(),
    "sex": pl.String(),
    "birth_date": pl.Date(),
    "retired": pl.Boolean(),
    "contribution_base": YUAN,
    "pension": YUAN,
    "prev_year_credit": YUAN,
    "household": pl.Int64(),
    "relation": pl.String(),
}
"""members.parquet: `contribution_base` (缴费基数) and `pension` are monthly; `prev_year_credit` (optional, may be
empty) is the member's account credits of the year before, for a transition rule that needs it."""
VISIT_COLUMNS: dict[str, pl.DataType] = {
    "psn": pl.Int64(),
    "date": pl.Date(),
    "level": pl.Int8(),
    "pharmacy": pl.Boolean(),
    "prescribed": pl.Boolean(),
    "covered": YUAN,
}
"""visits.parquet: `level` is the institution's (at a pharmacy the prescriber's), `covered` the policy-covered
amount (政策范围内费用)."""
MONEY = {"members": ("contribution_base", "pension", "prev_year_credit"), "visits": ("covered",)}
OPTIONAL = {"members": {"prev_year_credit", "household", "relation"}, "visits": {"prescribed"}}
SEXES = ("1", "2")
RELATIONS = ("self", "spouse", "parent", "child")
FILES = ("members.parquet", "visits.parquet", "population.json")


class PopulationError(InputError):
    """A population file that cannot be used; the message names the file, the row, the field and the value."""


@dataclass(frozen=True)
class Population:
    """Members and visits in memory, money in fen (Int64)."""

    region: str
    year: int
    members: pl.DataFrame
    visits: pl.DataFrame
    """empty when loaded for an engine that reads the visits itself (Spark)."""
    meta: dict = field(default_factory=dict)

    @property
    def visit_count(self) -> int:
        return self.visits.height or int(self.meta.get("visits", 0))


def _schema(kind: str) -> dict[str, pl.DataType]:
    return MEMBER_COLUMNS if kind == "members" else VISIT_COLUMNS


def to_fen(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    return frame.with_columns((pl.col(c) * 100).cast(pl.Int64) for c in MONEY[kind] if c in frame.columns)


def to_yuan(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    return frame.with_columns((pl.col(c).cast(YUAN) / 100).cast(YUAN) for c in MONEY[kind] if c in frame.columns)


def save(pop: Population, folder: Path, replace: bool = False) -> None:
    """Write `pop` to `folder` whole or not at all: into a new folder beside it, renamed into place."""
    if folder.exists() and not folder.is_dir():
        raise PopulationError(f"--out {folder}: is a file, not a folder")
    if folder.exists() and any((folder / name).exists() for name in FILES) and not replace:
        raise PopulationError(f"--out {folder}: already holds a population (give another folder)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".population-", dir=folder.parent))
    try:
        to_yuan(pop.members, "members").write_parquet(staging / "members.parquet")
        to_yuan(pop.visits, "visits").write_parquet(staging / "visits.parquet")
        meta = pop.meta | {"region": pop.region, "year": pop.year, "members": pop.members.height,
                           "visits": pop.visits.height}
        (staging / "population.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
        if folder.exists():
            for name in FILES:
                os.replace(staging / name, folder / name)
            shutil.rmtree(staging)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load(folder: Path, with_visits: bool = True) -> Population:
    """The population in `folder`, checked as an import is (see `check`); without its visits when an engine reads
    them from the folder itself (they were checked when the folder was written)."""
    meta_path = folder / "population.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        region, year = str(meta["region"]), int(meta["year"])
    except FileNotFoundError:
        raise PopulationError(f"{folder}: not a population folder (no population.json)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PopulationError(f"{meta_path}: unreadable ({exc})") from None
    members = read_table(folder / "members.parquet", "members")
    if not with_visits:
        empty = pl.DataFrame(schema=VISIT_COLUMNS).with_columns(pl.col("covered").cast(pl.Int64))
        return check(members, empty, region, year, meta, ("members.parquet", "visits.parquet"))
    visits = read_table(folder / "visits.parquet", "visits")
    return check(members, visits, region, year, meta, ("members.parquet", "visits.parquet"))


def read_table(path: Path, kind: str) -> pl.DataFrame:
    """members or visits from Parquet or CSV (money in yuan), as the schema's types, money in fen."""
    try:
        if path.suffix.lower() == ".csv":
            raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
        else:
            raw = pl.read_parquet(path)
    except FileNotFoundError:
        raise PopulationError(f"{path}: no such file") from None
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise PopulationError(f"{path}: unreadable ({str(exc).splitlines()[0]})") from None
    return to_fen(_typed(raw, kind, path.name), kind)


def _bad_value(frame: pl.DataFrame, ok: pl.Expr, column: str, name: str, why: str, money: bool = False) -> None:
    """Raise naming the first row (1-based, the header not counted) where `ok` is false."""
    bad = frame.with_row_index("_row").filter(~ok.fill_null(False) & pl.col(column).is_not_null())
    if bad.height:
        row = bad.row(0, named=True)
        value = row[column]
        shown = format_yuan(value) if money else repr(value) if isinstance(value, str) else str(value)
        raise PopulationError(f"{name} row {row['_row'] + 1}: {column}: {shown} {why}")


def _typed(raw: pl.DataFrame, kind: str, name: str) -> pl.DataFrame:
    schema = _schema(kind)
    missing = [c for c in schema if c not in raw.columns and c not in OPTIONAL[kind]]
    if missing:
        raise PopulationError(f"{name}: missing column {', '.join(missing)}")
    unknown = [c for c in raw.columns if c not in schema]
    if unknown:
        raise PopulationError(f"{name}: unknown column {', '.join(unknown)}")
    columns = []
    for column, dtype in schema.items():
        if column not in raw.columns:
            default = True if column == "prescribed" else None
            columns.append(pl.Series(column, [default] * raw.height, dtype=dtype))
            continue
        source = raw[column]
        if source.dtype == dtype:
            columns.append(source)
            continue
        text = source.cast(pl.String).str.strip_chars()
        if dtype == pl.Boolean():
            lowered = text.str.to_lowercase()
            value = lowered.replace_strict({"1": True, "true": True, "y": True, "0": False, "false": False,
                                            "n": False}, default=None, return_dtype=pl.Boolean)
        elif isinstance(dtype, pl.Decimal):
            value = text.str.to_decimal(scale=2) if text.dtype == pl.String else text
            two_places = text.str.contains(r"^-?\d{1,14}(\.\d{1,2})?$")
            _bad_value(pl.DataFrame({column: text, "_ok": two_places}), pl.col("_ok"), column, name,
                       "is not an amount in yuan with at most two decimals")
        elif dtype == pl.Date():
            value = text.str.to_date("%Y-%m-%d", strict=False)
        else:
            value = text.cast(pl.Int64 if dtype.is_integer() else dtype, strict=False)
        _bad_value(pl.DataFrame({column: text, "_v": value}), pl.col("_v").is_not_null(), column, name,
                   f"is not a {_dtype_word(dtype)}")
        columns.append(value.alias(column))
    return pl.DataFrame(columns)


def _dtype_word(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean():
        return "yes/no value (1/0, true/false)"
    if dtype == pl.Date():
        return "date (YYYY-MM-DD)"
    if dtype.is_integer():
        return "whole number"
    return str(dtype)


def check(members: pl.DataFrame, visits: pl.DataFrame, region: str, year: int, meta: dict | None = None,
          names: tuple[str, str] = ("members", "visits")) -> Population:
    """Members and visits (typed, money in fen) as a Population, or a PopulationError naming the first problem:
    required values, sexes, relations, amounts, duplicate members, visits of unknown members, outside `year`,
    levels other than 1-3; `names` are the members' and visits' files as the messages name them. Visits are sorted by
    member and date (stable)."""
    members_name, visits_name = names
    if not (len(region) == 6 and region.isdigit()):
        raise PopulationError(f"region: {region!r} is not a 6-digit admdvs")
    for kind, name, frame, required in (
            ("members", members_name, members, ("psn", "sex", "birth_date", "retired", "contribution_base",
                                                "pension")),
            ("visits", visits_name, visits, ("psn", "date", "level", "pharmacy", "covered"))):
        for column in required:
            nulls = frame.with_row_index("_row").filter(pl.col(column).is_null())
            if nulls.height:
                raise PopulationError(f"{name} row {nulls['_row'][0] + 1}: {column}: empty")
        for column in MONEY[kind]:
            _bad_value(frame, pl.col(column) >= 0, column, name, "is negative", money=True)
    _bad_value(members, pl.col("sex").is_in(SEXES), "sex", members_name, "is not 1 (male) or 2 (female)")
    _bad_value(members, pl.col("relation").is_in(RELATIONS), "relation", members_name,
               f"is not one of {', '.join(RELATIONS)}")
    duplicated = members.with_row_index("_row").filter(pl.col("psn").is_duplicated())
    if duplicated.height:
        raise PopulationError(f"{members_name} row {duplicated['_row'][1] + 1}: psn: {duplicated['psn'][1]} appears "
                              "more than once")
    _bad_value(visits, pl.col("level").is_in(LEVELS), "level", visits_name, "is not 1, 2 or 3")
    visits = visits.with_columns(pl.col("level").cast(pl.Int8))
    _bad_value(visits, pl.col("date").dt.year() == year, "date", visits_name, f"is not in the year {year}")
    _bad_value(visits, pl.col("psn").is_in(members["psn"].implode()), "psn", visits_name, "is not a member")
    visits = visits.with_columns(pl.col("prescribed").fill_null(True))
    if not visits.select(((pl.col("psn") > pl.col("psn").shift(1)) | ((pl.col("psn") == pl.col("psn").shift(1))
                          & (pl.col("date") >= pl.col("date").shift(1)))).fill_null(True).all()).item():
        visits = visits.sort("psn", "date", maintain_order=True)
    return Population(region, year, members, visits, dict(meta or {}))


def import_extract(members_file: Path, visits_file: Path, region: str, year: int, out: Path,
                   replace: bool = False) -> Population:
    """A bureau's extracts (Parquet, or CSV with money in yuan) in the population columns, checked whole and
    written to `out` only when every row is right."""
    pop = check(read_table(members_file, "members"), read_table(visits_file, "visits"), region, year,
                {"source": "import", "members_file": str(members_file), "visits_file": str(visits_file)},
                (members_file.name, visits_file.name))
    save(pop, out, replace)
    return pop


def engine_frame(pop: Population) -> pl.DataFrame:
    """The visits as the vectorized engine takes them: each with the member's type and age (full years, 周岁, on
    the visit date; a 29 February birthday counts from 1 March in other years) and the covered amount in fen."""
    born = pop.members.select("psn", "retired", "birth_date")
    frame = pop.visits.join(born, on="psn", how="left", maintain_order="left")
    day = pl.col("date")
    age = age_at(pl.col("birth_date"), day.dt.year(), month_day(day))
    return frame.select("psn", "date", "retired", age.alias("age"), "level", "pharmacy", "prescribed", "covered")
