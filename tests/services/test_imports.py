"""CSV import against a real database, on SQLite and PostgreSQL: a file is taken whole or not at all.

A good file is imported with or without a UTF-8 BOM; the same file again changes nothing; a changed row updates
its record. Every bad file is refused with a message naming the line, the field and the value, and every table
is as it was before.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from gongji.errors import InputError
from gongji.money import yuan_to_fen
from gongji.services.imports import import_csv
from gongji.store.ledger import ACCOUNT, OPENING
from gongji.store.tables import NATIONAL, accounts, catalogue, ledger, persons
from tests.factories import (
    PERSON_COLUMNS,
    RELATION_COLUMNS,
    assert_clean,
    csv_bytes,
    institution,
    institutions_csv,
    person,
    persons_csv,
    snapshot,
)

CATALOGUE_COLUMNS = ["admdvs", "med_list_codg", "med_list_name", "list_type", "chrgitm_lv", "selfpay_prop", "pay_std",
                     "pric_uplmt_amt", "hi_nego_drug_flag", "vbp_flag", "lmt_gend", "lmt_age_min", "lmt_age_max"]
P1 = person("P1", date(1970, 5, 20), balc="1000.00")
"""registered before every refusal test."""
P2 = person("P2", date(1980, 1, 15), serial=2)
"""a good new row, line 2 of every refused persons file."""
SPOUSE = person("X", date(1972, 8, 8), gend="2", serial=7)["certno"]
"""P1's spouse's ID number (not insured here)."""


def stored(engine, table, **where) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(table).filter_by(**where)).mappings().one())


def relation(psn_no: str = "P1", certno: str = SPOUSE, rel: str = "spouse") -> dict:
    return {"psn_no": psn_no, "relative_certno": certno, "relative_name": "配偶", "relation": rel}


def item(code: str, cls: str = "甲", **extra) -> dict:
    return {"med_list_codg": code, "med_list_name": f"药品{code}", "list_type": "drug", "chrgitm_lv": cls, **extra}


def bad_person(**changes) -> dict:
    return person("P3", date(1975, 6, 30), serial=3) | changes


# --- good files ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
def test_persons_import_then_same_file_changes_nothing_then_changed_row_updates(engine, book, bom):
    retiree = person("P4", date(1958, 3, 3), gend="2", psn_type="12", pension="3000.00", serial=4)
    first = import_csv(engine, "persons", persons_csv([P1, retiree], bom=bom), book)
    assert (first.rows, first.inserted, first.updated, first.unchanged) == (2, 2, 0, 0)
    p1 = stored(engine, persons, psn_no="P1")
    assert p1["certno"] == P1["certno"] and p1["brdy"] == date(1970, 5, 20) and p1["gend"] == "1"
    assert p1["crt_cont_base"] == 600_000  # 6000.00 yuan
    assert stored(engine, persons, psn_no="P4")["pension"] == 300_000  # 3000.00 yuan
    assert stored(engine, accounts, psn_no="P1")["balance"] == 100_000  # the opening balance 1000.00
    assert stored(engine, accounts, psn_no="P4")["balance"] == 0  # no balc
    assert stored(engine, ledger, fund=ACCOUNT, kind=OPENING)["amount"] == 100_000
    before = snapshot(engine)

    again = import_csv(engine, "persons", persons_csv([P1, retiree], bom=bom), book)
    assert (again.rows, again.inserted, again.updated, again.unchanged) == (2, 0, 0, 2)
    assert snapshot(engine) == before

    changed = import_csv(engine, "persons", persons_csv([P1 | {"crt_cont_base": "6500.00"}, retiree], bom=bom), book)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 1)
    assert stored(engine, persons, psn_no="P1")["crt_cont_base"] == 650_000  # 6500.00 yuan
    assert stored(engine, accounts, psn_no="P1")["balance"] == 100_000  # balc is taken only on opening
    assert any("balc ignored" in note for note in changed.notes)
    assert_clean(engine)


@pytest.mark.parametrize("kind", ["relations", "institutions", "catalogue"])
def test_other_kinds_again_change_nothing(engine, book, kind):
    import_csv(engine, "persons", persons_csv([P1]), book)
    data = {
        "relations": csv_bytes(RELATION_COLUMNS, [relation(), relation(certno=P2["certno"], rel="子女")]),
        "institutions": institutions_csv([institution("H32100000001", 2),
                                          institution("P32100000011", None, otp_pool_flag="1")]),
        "catalogue": csv_bytes(CATALOGUE_COLUMNS, [item("A01"), item("B01", "乙", selfpay_prop="10%", pay_std="1.2345"),
                                                   item("C01", "丙", lmt_gend="2", lmt_age_min="18")]),
    }[kind]
    assert import_csv(engine, kind, data, book).inserted == 2 + (kind == "catalogue")
    before = snapshot(engine)
    again = import_csv(engine, kind, data, book)
    assert (again.inserted, again.updated) == (0, 0)
    assert snapshot(engine) == before
    assert_clean(engine)


def test_catalogue_rows_by_region_national_when_empty(engine, book):
    rows = [item("A01", pay_std="2.00"),
            item("A01", admdvs="321000", pay_std="1.80", pric_uplmt_amt="1.5000"),
            item("V01", admdvs="000000", pay_std="0.3250", vbp_flag="1"),
            item("G01", "乙", selfpay_prop="10%", pay_std="12.00", pric_uplmt_amt="10.00", hi_nego_drug_flag="1")]
    first = import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, rows), book)
    assert (first.inserted, first.updated) == (4, 0)  # A01 twice: once national, once Yangzhou's
    national = stored(engine, catalogue, admdvs=NATIONAL, med_list_codg="A01")
    yangzhou = stored(engine, catalogue, admdvs="321000", med_list_codg="A01")
    assert national["pay_std"] == 20_000 and national["pric_uplmt_amt"] is None  # 2.00 yuan in 1/10000
    assert (yangzhou["pay_std"], yangzhou["pric_uplmt_amt"]) == (18_000, 15_000)  # 1.80 and 1.50 yuan
    assert not yangzhou["hi_nego_drug_flag"] and not yangzhou["vbp_flag"]
    procured = stored(engine, catalogue, med_list_codg="V01")
    assert (procured["admdvs"], procured["pay_std"], procured["vbp_flag"]) == (NATIONAL, 3_250, True)
    negotiated = stored(engine, catalogue, med_list_codg="G01")
    assert negotiated["hi_nego_drug_flag"] and negotiated["selfpay_prop"] == 1000  # 10 % in basis points
    before = snapshot(engine)

    again = import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, rows), book)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert snapshot(engine) == before

    rows[1] = rows[1] | {"pric_uplmt_amt": "1.6000"}
    changed = import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, rows), book)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 3)
    assert stored(engine, catalogue, admdvs="321000", med_list_codg="A01")["pric_uplmt_amt"] == 16_000
    assert stored(engine, catalogue, admdvs=NATIONAL, med_list_codg="A01")["pay_std"] == 20_000  # untouched


def test_an_old_catalogue_file_without_the_new_columns_is_national(engine, book):
    old = ["med_list_codg", "med_list_name", "list_type", "chrgitm_lv", "selfpay_prop", "pay_std"]
    import_csv(engine, "catalogue", csv_bytes(old, [item("A01", pay_std="2.00")]), book)
    row = stored(engine, catalogue, med_list_codg="A01")
    assert (row["admdvs"], row["pric_uplmt_amt"], row["hi_nego_drug_flag"], row["vbp_flag"]) == \
        (NATIONAL, None, False, False)


# --- refused files --------------------------------------------------------------------------------------------

def _flip_check_digit(certno: str) -> str:
    return certno[:-1] + ("0" if certno[-1] != "0" else "1")


BAD_CERTNO = _flip_check_digit(bad_person()["certno"])
GBK_NAME = persons_csv([P2, bad_person(psn_name="张三")]).replace("张三".encode(), "张三".encode("gbk"))
"""张 is D5 C5 in GBK: the first byte is not UTF-8."""

REFUSED = {
    # kind, file, fragments the message must hold (line, field, value)
    "certno-check-digit": ("persons", persons_csv([P2, bad_person(certno=BAD_CERTNO)]),
                           ["line 3", "certno", BAD_CERTNO]),
    "brdy-not-certno": ("persons", persons_csv([P2, bad_person(brdy="1975-06-29")]),
                        ["line 3", "brdy 1975-06-29", "certno"]),
    "gend-not-certno": ("persons", persons_csv([P2, bad_person(gend="2")]), ["line 3", "gend 2", "certno"]),
    "psn-type": ("persons", persons_csv([P2, bad_person(psn_type="13")]), ["line 3", "psn_type", "'13'"]),
    "stas-3": ("persons", persons_csv([P2, bad_person(psn_insu_stas="3")]), ["line 3", "psn_insu_stas", "'3'"]),
    "region-code": ("persons", persons_csv([P2, bad_person(insuplc_admdvs="32100")]),
                    ["line 3", "insuplc_admdvs", "'32100'"]),
    "region-no-policy": ("persons", persons_csv([P2, bad_person(insuplc_admdvs="999999")]),
                         ["line 3", "insuplc_admdvs", "999999"]),
    "psn-no-twice": ("persons", persons_csv([P2, bad_person(psn_no="P2")]), ["line 3", "psn_no", "P2", "line 2"]),
    "certno-of-another": ("persons", persons_csv([P2, P1 | {"psn_no": "P3"}]),
                          ["line 3", "certno", P1["certno"], "P1"]),
    "unknown-column": ("persons", csv_bytes([*PERSON_COLUMNS, "nickname"], [P2, bad_person(nickname="小张")]),
                       ["line 1", "nickname"]),
    "missing-column": ("persons", csv_bytes([c for c in PERSON_COLUMNS if c != "certno"], [P2, bad_person()]),
                       ["line 1", "certno"]),
    "not-utf8": ("persons", GBK_NAME, ["line 3", "UTF-8", "0xd5"]),
    "negative": ("persons", persons_csv([P2, bad_person(crt_cont_base="-1.00")]),
                 ["line 3", "crt_cont_base", "'-1.00'"]),
    "three-decimals": ("persons", persons_csv([P2, bad_person(crt_cont_base="6000.001")]),
                       ["line 3", "crt_cont_base", "6000.001"]),
    "relation-unknown-psn": ("relations", csv_bytes(RELATION_COLUMNS, [relation(), relation("P9", P2["certno"])]),
                             ["line 3", "psn_no", "P9"]),
    "relation-sibling": ("relations", csv_bytes(RELATION_COLUMNS, [relation(), relation(certno=P2["certno"],
                                                                                         rel="sibling")]),
                         ["line 3", "relation", "sibling"]),
    "relation-self": ("relations", csv_bytes(RELATION_COLUMNS, [relation(), relation(certno=P1["certno"])]),
                      ["line 3", "relative_certno", P1["certno"]]),
    "institution-code": ("institutions", institutions_csv([institution("H32100000001"), institution("H3210000002")]),
                         ["line 3", "fixmedins_code", "H3210000002"]),
    "hospital-no-level": ("institutions", institutions_csv([institution("H32100000001"),
                                                            institution("H32100000002", None)]),
                          ["line 3", "hosp_lv", "H32100000002"]),
    "pharmacy-level": ("institutions", institutions_csv([institution("H32100000001"),
                                                         institution("P32100000002", 2)]),
                       ["line 3", "hosp_lv", "value: 2"]),
    "class-b-no-share": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("A01"), item("B01", "乙")]),
                         ["line 3", "selfpay_prop", "乙"]),
    "class-unknown": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("A01"), item("D01", "丁")]),
                      ["line 3", "chrgitm_lv", "丁"]),
    "catalogue-twice-in-a-region": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("A01", admdvs="321000"),
                                                                              item("A01", admdvs="321000")]),
                                    ["line 3", "admdvs/med_list_codg", "321000/A01", "line 2"]),
    "catalogue-twice-national": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("A01"), item("A01", admdvs=NATIONAL)]),
                                 ["line 3", "admdvs/med_list_codg", "000000/A01", "line 2"]),
    "catalogue-region-code": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("A01"), item("A02", admdvs="3210")]),
                              ["line 3", "admdvs", "'3210'"]),
    "negotiated-no-standard": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [
        item("A01"), item("G01", hi_nego_drug_flag="1", pric_uplmt_amt="9.00")]),
        ["line 3", "pay_std", "G01", "hi_nego_drug_flag 1", "value: empty"]),
    "procured-no-standard": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("A01"), item("V01", vbp_flag="1")]),
                             ["line 3", "pay_std", "V01", "vbp_flag 1", "value: empty"]),
    "negotiated-service": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [
        item("A01"), item("S01", list_type="service", hi_nego_drug_flag="1", pay_std="5.00")]),
        ["line 3", "hi_nego_drug_flag", "S01", "service"]),
    "procured-flag-2": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("A01"), item("V01", vbp_flag="2",
                                                                                     pay_std="1.00")]),
                        ["line 3", "vbp_flag", "must be 1 or 0", "'2'"]),
    "listing-price-negative": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("A01"),
                                                                         item("A02", pric_uplmt_amt="-1.00")]),
                               ["line 3", "pric_uplmt_amt", "must not be negative", "'-1.00'"]),
    "listing-price-five-decimals": ("catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("A01"),
                                                                              item("A02", pric_uplmt_amt="1.00001")]),
                                    ["line 3", "pric_uplmt_amt", "1.00001"]),
}


@pytest.mark.parametrize("case", REFUSED)
def test_bad_file_is_refused_whole_and_changes_nothing(engine, book, case):
    kind, data, fragments = REFUSED[case]
    import_csv(engine, "persons", persons_csv([P1]), book)
    before = snapshot(engine)
    with pytest.raises(InputError) as refused:
        import_csv(engine, kind, data, book)
    message = str(refused.value)
    for fragment in fragments:
        assert fragment in message, message
    assert snapshot(engine) == before  # line 2 was good, yet it is not imported either
    assert_clean(engine)


def test_good_row_and_bad_row_import_nothing(engine, book):
    with pytest.raises(InputError, match="line 3, crt_cont_base"):
        import_csv(engine, "persons", persons_csv([P2, bad_person(crt_cont_base="abc")]), book)
    assert all(rows == [] for rows in snapshot(engine).values())
    assert yuan_to_fen(P2["crt_cont_base"]) == 600_000  # P2 itself was good
    assert_clean(engine)
