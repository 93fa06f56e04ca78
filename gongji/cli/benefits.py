"""`gongji prescription|qualification|registration`: electronic prescriptions (外配处方), chronic and special
disease qualifications (门诊慢特病备案) and cross-region registrations (异地就医备案)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gongji.cli.common import PolicyDir, app, bad_input, book_or_fail, console, fail
from gongji.cli.ops import AsJson, Db, engine_or_fail
from gongji.engine.bill import PRICE_SCALE
from gongji.errors import InputError
from gongji.services import benefit_views, prescriptions, qualifications, registrations
from gongji.services.family import registered_person
from gongji.store.db import transaction

prescription_app = typer.Typer(help="Electronic prescriptions (外配处方) pharmacies settle against.",
                               no_args_is_help=True)
qualification_app = typer.Typer(help="Chronic and special disease qualifications (门诊慢特病备案, med_type 14).",
                                no_args_is_help=True)
registration_app = typer.Typer(help="Cross-region care registrations (异地就医备案).", no_args_is_help=True)
for sub, name in ((prescription_app, "prescription"), (qualification_app, "qualification"),
                  (registration_app, "registration")):
    app.add_typer(sub, name=name)

Institution = Annotated[str, typer.Option("--institution", help="The fixmedins_code of the institution that "
                                          "wrote it.")]


def day(text: str | None, what: str) -> date | None:
    """An ISO date given as option `what`, or None when not given."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{what}: {text!r} is not a date like 2024-03-01")


def print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _read_json(file: str) -> object:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{file}: malformed JSON: {exc}")


def _quantity(value: int) -> str:
    whole, part = divmod(value, PRICE_SCALE)
    return f"{whole}.{part:04d}".rstrip("0").rstrip(".")


def _fields(title: str, row: dict) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("field")
    table.add_column("value")
    for key, value in row.items():
        table.add_row(key, "" if value is None else str(value))
    return table


# --- prescriptions ------------------------------------------------------------------------------------------

@prescription_app.command("add")
def prescription_add(
    file: Annotated[str, typer.Argument(help="A JSON prescription ('-': standard input): hosp_rxno, psn_no, "
                                        "prsc_dr_name, prsc_dept_name, diag_code, diag_name, prsc_date, optional "
                                        "valid_days, drugs[] (med_list_codg, drug_genname, drug_cnt, medc_days).")],
    institution: Institution,
    db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """Record a prescription a designated medical institution wrote; prints its rxno and last valid day."""
    data = _read_json(file)
    engine = engine_or_fail(db)
    book = book_or_fail(policy_dir)
    with bad_input():
        rx = prescriptions.parse_prescription(data)
        with transaction(engine) as conn:
            row = prescriptions.record(conn, book, institution, rx)
    print(f"rxno {row['rxno']}")
    print(f"valid_end {row['valid_end']}")


@prescription_app.command("revoke")
def prescription_revoke(rxno: str, institution: Institution, db: Db = None) -> None:
    """Withdraw an unused prescription (处方撤销), for the institution that wrote it."""
    with bad_input(), transaction(engine_or_fail(db)) as conn:
        found = benefit_views.prescription(conn, rxno)
        if found is not None and found["revoked_at"] is not None:
            raise InputError(f"rxno: {rxno} was already revoked on {found['revoked_at']}")
        prescriptions.revoke(conn, institution, rxno)
    print(f"{rxno} revoked")


@prescription_app.command("show")
def prescription_show(rxno: str, as_json: AsJson = False, db: Db = None) -> None:
    """A prescription, its drugs and the settlements that named it."""
    with engine_or_fail(db).connect() as conn:
        found = benefit_views.prescription(conn, rxno)
    if found is None:
        fail(f"rxno: {rxno!r} is not a recorded prescription")
    drugs = [d | {"drug_cnt": _quantity(d["drug_cnt"])} for d in found["drugs"]]
    if as_json:
        print_json(found | {"drugs": [{k: v for k, v in d.items() if k not in ("id", "rxno")} for d in drugs]})
        return
    out = console()
    out.print(_fields(f"prescription {rxno}", {k: v for k, v in found.items() if k not in ("drugs", "settlements")}))
    table = Table(title="drugs")
    for header in ("med_list_codg", "drug_genname", "drug_cnt", "medc_days"):
        table.add_column(header, justify="right" if header in ("drug_cnt", "medc_days") else "left")
    for d in drugs:
        table.add_row(d["med_list_codg"], d["drug_genname"], d["drug_cnt"], str(d["medc_days"]))
    out.print(table)
    out.print("settlements: " + (", ".join(
        s["setl_id"] + (f" (reversal of {s['reverses']})" if s["reverses"] else "")
        + (f" (reversed by {s['reversed_by']})" if s["reversed_by"] else "") for s in found["settlements"])
        or "none"))


# --- qualifications -----------------------------------------------------------------------------------------

@qualification_app.command("add")
def qualification_add(
    psn_no: str,
    disease: Annotated[str, typer.Option("--disease", help="opsp_dise_code, on the insured region's list")],
    begin: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option("--to", help="last day (default: open-ended)")] = None,
    institution: Annotated[str | None, typer.Option("--institution", help="the designated institution that "
                                                    "diagnosed it (鉴定定点医药机构)")] = None,
    db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """Qualify a member for a chronic or special disease; prints the qualification's number."""
    record_data = {"psn_no": psn_no, "opsp_dise_code": disease, "begndate": day(begin, "--from"),
                   "enddate": day(end, "--to"), "ide_fixmedins_no": institution}
    engine = engine_or_fail(db)
    book = book_or_fail(policy_dir)
    with bad_input():
        record = qualifications.parse_qualification(record_data)
        with transaction(engine) as conn:
            row = qualifications.record(conn, book, record)
    print(f"{psn_no} qualified for {row['opsp_dise_code']} {row['opsp_dise_name']} from {row['begndate']}"
          + (f" to {row['enddate']}" if row["enddate"] else "") + f": trt_dcla_detl_sn {row['trt_dcla_detl_sn']}")


@qualification_app.command("cancel")
def qualification_cancel(
    psn_no: str, sn: Annotated[str, typer.Argument(help="trt_dcla_detl_sn")],
    memo: Annotated[str | None, typer.Option("--memo", help="why it no longer holds")] = None, db: Db = None,
) -> None:
    """End a qualification (settlements made under it stand)."""
    with bad_input(), transaction(engine_or_fail(db)) as conn:
        qualifications.cancel(conn, psn_no, sn, memo)
    print(f"{sn} of {psn_no} cancelled")


@qualification_app.command("list")
def qualification_list(psn_no: str, as_json: AsJson = False, db: Db = None) -> None:
    """A member's qualifications, cancelled ones included."""
    with bad_input(), engine_or_fail(db).connect() as conn:
        registered_person(conn, psn_no, "psn_no")
        found = [dict(q) for q in qualifications.of_person(conn, psn_no, cancelled=True)]
    if as_json:
        print_json(found)
        return
    table = Table(title=f"qualifications of {psn_no}")
    for header in ("trt_dcla_detl_sn", "disease", "from", "to", "institution", "cancelled"):
        table.add_column(header)
    for q in found:
        table.add_row(q["trt_dcla_detl_sn"], f"{q['opsp_dise_code']} {q['opsp_dise_name']}", str(q["begndate"]),
                      str(q["enddate"] or ""), q["ide_fixmedins_no"] or "", str(q["cancelled_at"] or ""))
    console().print(table)


# --- registrations ------------------------------------------------------------------------------------------

@registration_app.command("add")
def registration_add(
    psn_no: str,
    region: Annotated[str, typer.Option("--region", help="mdtrtarea_admvs: where the member will be treated (a "
                                        "province's code for all of it)")],
    reason: Annotated[str, typer.Option("--reason", help="resident | referral | temporary")],
    begin: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option("--to", help="last day (default: open-ended)")] = None,
    db: Db = None,
) -> None:
    """Register a member for care in another region; prints the registration's id."""
    record_data = {"psn_no": psn_no, "mdtrtarea_admvs": region, "reason": reason, "begndate": day(begin, "--from"),
                   "enddate": day(end, "--to")}
    engine = engine_or_fail(db)
    with bad_input():
        record = registrations.parse_registration(record_data)
        with transaction(engine) as conn:
            row = registrations.record(conn, record)
    print(f"registration {row['id']}: {psn_no} in {row['mdtrtarea_admvs']} ({row['reason']}) from {row['begndate']}"
          + (f" to {row['enddate']}" if row["enddate"] else ""))


@registration_app.command("revoke")
def registration_revoke(registration_id: Annotated[int, typer.Argument(help="the id `registration add` printed")],
                        db: Db = None) -> None:
    """End a registration (settlements made under it stand)."""
    with bad_input(), transaction(engine_or_fail(db)) as conn:
        found = registrations.revoke(conn, registration_id)
    print(f"registration {registration_id} of {found['psn_no']} revoked")


@registration_app.command("list")
def registration_list(psn_no: str, as_json: AsJson = False, db: Db = None) -> None:
    """A member's registrations, revoked ones included."""
    with bad_input(), engine_or_fail(db).connect() as conn:
        registered_person(conn, psn_no, "psn_no")
        found = [dict(r) for r in registrations.of_person(conn, psn_no)]
    if as_json:
        print_json(found)
        return
    table = Table(title=f"registrations of {psn_no}")
    for header in ("id", "region", "reason", "from", "to", "revoked"):
        table.add_column(header)
    for r in found:
        table.add_row(str(r["id"]), r["mdtrtarea_admvs"], r["reason"], str(r["begndate"]), str(r["enddate"] or ""),
                      str(r["revoked_at"] or ""))
    console().print(table)
