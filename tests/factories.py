"""Small registries for tests, written as the CSV files a bureau would import."""

from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy import select

from gongji.money import yuan_to_fen
from gongji.services import prescriptions
from gongji.services.audit import audit
from gongji.services.records import make_certno
from gongji.store.tables import metadata

PERSON_COLUMNS = ["psn_no", "psn_name", "certno", "gend", "brdy", "psn_type", "insuplc_admdvs", "emp_name",
                  "crt_cont_base", "pension", "psn_insu_stas", "psn_insu_date", "retire_date", "balc",
                  "prev_year_credit"]


def csv_bytes(columns: list[str], rows: list[dict], bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: r.get(c, "") for c in columns})
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def person(psn_no: str, birth: date, *, region: str = "321000", gend: str = "1", psn_type: str = "11",
           base: str = "6000.00", pension: str = "0", stas: str = "1", balc: str = "", serial: int = 1,
           **extra) -> dict:
    certno = make_certno(region[:4] + "02", birth, serial, gend)
    return {"psn_no": psn_no, "psn_name": f"测试{psn_no}", "certno": certno,
            "gend": gend, "brdy": birth.isoformat(), "psn_type": psn_type, "insuplc_admdvs": region,
            "emp_name": "测试单位" if psn_type == "11" else "", "crt_cont_base": base if psn_type == "11" else "0",
            "pension": pension, "psn_insu_stas": stas, "psn_insu_date": "2000-01-01", "balc": balc, **extra}


def persons_csv(rows: list[dict], bom: bool = False) -> bytes:
    return csv_bytes(PERSON_COLUMNS, rows, bom)


RELATION_COLUMNS = ["psn_no", "relative_certno", "relative_name", "relation"]
INSTITUTION_COLUMNS = ["fixmedins_code", "fixmedins_name", "hosp_lv", "admdvs", "designated", "otp_pool_flag"]


def institution(code: str, level: int | None = 1, region: str = "321000", **extra) -> dict:
    return {"fixmedins_code": code, "fixmedins_name": f"机构{code}", "hosp_lv": "" if level is None else str(level),
            "admdvs": region, "designated": "1", **extra}


def institutions_csv(rows: list[dict]) -> bytes:
    return csv_bytes(INSTITUTION_COLUMNS, rows)


def fen(yuan: str) -> int:
    return yuan_to_fen(yuan)


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of every table, to show that a refused input changed nothing."""
    with engine.connect() as conn:
        return {t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr) for t in metadata.sorted_tables}


def assert_clean(engine) -> None:
    report = audit(engine)
    assert report.clean, report.differences


def prescribe(engine, book, psn_no: str, hospital: str = "H32100000003", on: date = date(2024, 3, 1), days: int = 30,
              drugs: tuple[str, ...] = ("XD01",), **extra) -> str:
    """Record a prescription `hospital` wrote for `psn_no` on `on`: 30 units of each drug for `days` days."""
    row = prescriptions.record_prescription(engine, book, hospital, {
        "hosp_rxno": f"{psn_no}-{on}-{days}-{len(drugs)}-{extra.get('valid_days', '')}", "psn_no": psn_no,
        "prsc_dr_name": "王医生", "diag_code": "I10.x00", "diag_name": "高血压", "prsc_date": on.isoformat(),
        "drugs": [{"med_list_codg": code, "drug_genname": code, "drug_cnt": "30", "medc_days": days}
                  for code in drugs], **extra})
    return row["rxno"]
