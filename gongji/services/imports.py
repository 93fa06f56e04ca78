"""`gongji import persons|relations|institutions|catalogue FILE.csv`: a whole file or nothing; and one record
at a time (the admin API), checked and written the same way.

Columns are the national platform's field names (see README). UTF-8 with or without BOM. Every row is
checked before anything is written; a bad row is reported as "line N, field: reason (value: ...)" and the
file is refused whole. A row equal to what is stored changes nothing; a changed row updates the record.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.exc import IntegrityError

from gongji.errors import InputError, describe, short_repr
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services.records import CatalogueRecord, InstitutionRecord, PersonRecord, RelationRecord
from gongji.store.db import transaction
from gongji.store.ledger import ACCOUNT, OPENING, ensure_pool, post, row
from gongji.store.tables import accounts, catalogue, institutions, persons, relations

MAX_REPORTED = 20
CHUNK = 900
"""keys per IN (...) query: below SQLite's old limit of 999 bound parameters."""


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Kind:
    model: type[BaseModel]
    table: Table
    key: tuple[str, ...]
    to_row: Callable[[BaseModel], dict]
    unique: tuple[str, ...] = ()
    """other columns that must be unique within the file."""


def _person_row(r: PersonRecord) -> dict:
    return r.model_dump(exclude={"balc", "prev_year_credit"}) | {"prev_year_credits": r.prev_year_credit}


def _institution_row(r: InstitutionRecord) -> dict:
    return r.model_dump(exclude={"otp_pool_flag"}) | {"fixmedins_type": r.fixmedins_type,
                                                     "outpatient_pooled": r.outpatient_pooled}


KINDS = {
    "persons": Kind(PersonRecord, persons, ("psn_no",), _person_row, unique=("certno",)),
    "relations": Kind(RelationRecord, relations, ("psn_no", "relative_certno"), lambda r: r.model_dump()),
    "institutions": Kind(InstitutionRecord, institutions, ("fixmedins_code",), _institution_row),
    "catalogue": Kind(CatalogueRecord, catalogue, ("admdvs", "med_list_codg"),
                      lambda r: r.model_dump() | {"selfpay_prop": r.selfpay_prop or 0}),
}


def columns_of(kind: str) -> dict[str, bool]:
    """The CSV columns of `kind`: name -> required."""
    return {name: f.is_required() for name, f in KINDS[kind].model.model_fields.items()}


def read_rows(data: bytes, kind: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for every data row; empty cells are left out so that defaults apply."""
    return read_csv_rows(data, columns_of(kind), kind)


def read_csv_rows(data: bytes, known: dict[str, bool], kind: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for every data row of a CSV file whose columns are `known` (name -> required), `kind`
    naming them in a refusal; empty cells are left out so that defaults apply."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise InputError(f"line {line}: the file is not UTF-8: byte {exc.object[exc.start]:#x} at offset "
                         f"{exc.start}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise InputError("the file is empty: it needs a header line")
    unknown = [h for h in header if h not in known]
    if unknown:
        raise InputError(f"line 1: unknown column {short_repr(unknown[0])}; {kind} columns are "
                         + ", ".join(known))
    missing = [name for name, required in known.items() if required and name not in header]
    if missing:
        raise InputError(f"line 1: missing column {missing[0]}")
    if len(set(header)) != len(header):
        raise InputError("line 1: a column appears twice")
    reader.fieldnames = header
    rows = []
    for raw in reader:
        if None in raw:
            raise InputError(f"line {reader.line_num}: more cells than columns")
        cells = {k: v.strip() for k, v in raw.items() if v is not None and v.strip() != ""}
        if cells:
            rows.append((reader.line_num, cells))
    return rows


def _validate(kind: str, rows: list[tuple[int, dict[str, str]]]) -> list[tuple[int, BaseModel]]:
    spec = KINDS[kind]
    records, errors = [], []
    seen: dict[tuple[str, tuple], int] = {}
    for line, cells in rows:
        try:
            record = spec.model.model_validate(cells)
        except ValidationError as exc:
            errors += [f"line {line}, {problem}" for problem in describe(exc)]
            continue
        for columns in (spec.key, *((u,) for u in spec.unique)):
            value = tuple(getattr(record, c) for c in columns)
            first = seen.setdefault((columns[0], value), line)
            if first != line:
                errors.append(f"line {line}, {'/'.join(columns)}: {short_repr('/'.join(value))} "
                              f"already appears on line {first}")
        records.append((line, record))
    if errors:
        raise InputError(_summary(errors))
    return records


def _summary(errors: list[str]) -> str:
    more = len(errors) - MAX_REPORTED
    return "\n".join(errors[:MAX_REPORTED] + ([f"... and {more} more"] if more > 0 else []))


def _existing(conn: Connection, table: Table, key: tuple[str, ...], rows: list[dict]) -> dict[tuple, dict]:
    """The stored rows of `rows`' keys, fetched by the key column with the most distinct values (the item code,
    not the region, of a catalogue row)."""
    found = {}
    wanted = {tuple(r[c] for c in key) for r in rows}
    column = max(key, key=lambda c: len({r[c] for r in rows}))
    values = sorted({r[column] for r in rows})
    for i in range(0, len(values), CHUNK):
        for stored in conn.execute(select(table).where(table.c[column].in_(values[i:i + CHUNK]))).mappings():
            found_key = tuple(stored[c] for c in key)
            if found_key in wanted:
                found[found_key] = dict(stored)
    return found


def _check_persons(conn: Connection, records: list[tuple[str, PersonRecord]], book: PolicyBook) -> None:
    errors = []
    regions: dict[str, str | None] = {}
    for where, r in records:
        if r.insuplc_admdvs not in regions:
            try:
                book.region(r.insuplc_admdvs)
                regions[r.insuplc_admdvs] = None
            except PolicyNotFound as exc:
                regions[r.insuplc_admdvs] = str(exc)
        if regions[r.insuplc_admdvs]:
            errors.append(f"{where}insuplc_admdvs: {regions[r.insuplc_admdvs]}")
    certs = [r.certno for _l, r in records]
    owners = {}
    for i in range(0, len(certs), CHUNK):
        owners.update(conn.execute(select(persons.c.certno, persons.c.psn_no)
                                   .where(persons.c.certno.in_(certs[i:i + CHUNK]))).all())
    for where, r in records:
        if owners.get(r.certno, r.psn_no) != r.psn_no:
            errors.append(f"{where}certno: {r.certno} is already registered as psn_no {owners[r.certno]}")
    if errors:
        raise InputError(_summary(errors))


def _check_relations(conn: Connection, records: list[tuple[str, RelationRecord]]) -> None:
    wanted = sorted({r.psn_no for _l, r in records})
    own = {}
    for i in range(0, len(wanted), CHUNK):
        own.update(conn.execute(select(persons.c.psn_no, persons.c.certno)
                                .where(persons.c.psn_no.in_(wanted[i:i + CHUNK]))).all())
    errors = []
    for where, r in records:
        if r.psn_no not in own:
            errors.append(f"{where}psn_no: {r.psn_no!r} is not a registered person (import persons first)")
        elif own[r.psn_no] == r.relative_certno:
            errors.append(f"{where}relative_certno: {r.relative_certno} is the person's own ID number")
    if errors:
        raise InputError(_summary(errors))


def import_csv(engine: Engine, kind: str, data: bytes, book: PolicyBook) -> ImportResult:
    """Check every row of `data`, then write them all in one transaction."""
    if kind not in KINDS:
        raise InputError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    records = _validate(kind, read_rows(data, kind))
    with transaction(engine) as conn:
        return write_records(conn, kind, [(f"line {line}, ", r) for line, r in records], book)


def write_records(conn: Connection, kind: str, records: list[tuple[str, BaseModel]], book: PolicyBook) -> ImportResult:
    """Check valid records against the database and write them in the caller's transaction: a new one is
    inserted (a new person with an account), a changed one updated. Each record comes with where it came from
    ("line 3, " in a file), which starts its error messages."""
    spec = KINDS[kind]
    result = ImportResult(kind, rows=len(records))
    if kind == "persons":
        _check_persons(conn, records, book)
    elif kind == "relations":
        _check_relations(conn, records)
    rows = [spec.to_row(r) for _w, r in records]
    stored = _existing(conn, spec.table, spec.key, rows)
    new, changed = [], []
    for r in rows:
        before = stored.get(tuple(r[c] for c in spec.key))
        if before is None:
            new.append(r)
        elif any(before[c] != v for c, v in r.items()):
            changed.append(r)
    if new:
        conn.execute(spec.table.insert(), new)
    for r in changed:
        conn.execute(update(spec.table).where(*(spec.table.c[c] == r[c] for c in spec.key)).values(**r))
    result.inserted, result.updated = len(new), len(changed)
    result.unchanged = len(rows) - len(new) - len(changed)
    if kind == "persons":
        _open_accounts(conn, [r for _w, r in records], {r["psn_no"] for r in new}, result)
    return result


class AlreadyRegistered(InputError):
    """A record added on its own whose key is already registered."""


def add_record(engine: Engine, kind: str, record: BaseModel, book: PolicyBook,
               also: Callable[[Connection, dict], None] | None = None) -> dict:
    """Add one new record as a file of that one row would, in one transaction; returns its row. A key already
    registered is refused (AlreadyRegistered): one record at a time adds, a file also updates. `also(conn, row)`
    runs at the end of the same transaction."""
    spec = KINDS[kind]
    row = spec.to_row(record)
    key = "/".join(spec.key)
    value = "/".join(str(row[c]) for c in spec.key)
    try:
        with transaction(engine) as conn:
            if conn.execute(select(spec.table).where(*(spec.table.c[c] == row[c] for c in spec.key))).first():
                raise AlreadyRegistered(f"{key}: {value!r} is already registered")
            write_records(conn, kind, [("", record)], book)
            if also is not None:
                also(conn, row)
    except IntegrityError:  # the same record added at the same time
        raise AlreadyRegistered(f"{key}: {value!r} was registered at the same time by another request") from None
    return row


def _open_accounts(conn: Connection, records: list[PersonRecord], new: set[str], result: ImportResult) -> None:
    """Every new person gets an account, with its opening balance as a ledger movement; an existing
    account keeps its balance (the ledger, not the file, moves it)."""
    opened, ledger_rows, ignored = [], [], 0
    for r in records:
        if r.psn_no in new:
            opened.append({"psn_no": r.psn_no, "balance": r.balc or 0})
            if r.balc:
                ledger_rows.append(row(ACCOUNT, r.psn_no, OPENING, r.balc, r.psn_insu_date, psn_no=r.psn_no,
                                       memo="opening balance (imported)"))
        elif r.balc is not None:
            ignored += 1
    if opened:
        conn.execute(accounts.insert(), opened)
        post(conn, ledger_rows)
    for admdvs in sorted({r.insuplc_admdvs for r in records}):
        ensure_pool(conn, admdvs)
    if ignored:
        result.notes.append(f"balc ignored for {ignored} existing accounts: an opening balance is taken "
                            "only when the account is opened")


def import_file(engine: Engine, kind: str, path: Path, book: PolicyBook) -> ImportResult:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return import_csv(engine, kind, data, book)
    except InputError as exc:
        raise InputError(f"{path.name}: {exc}") from None
