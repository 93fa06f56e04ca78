"""`gongji prescription|qualification|registration` and `gongji clearing` from the outside: what they print, and
bad input refused with exit status 2, one line naming the field and the value, and nothing changed.

Yangzhou (321000.yaml): retired deductible 500 a year, ratio 80 % at level 1; prescriptions valid 3 days counting
the day written; cross-region care without a registration 20 points less.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from tests.cli.test_ops import refused, run
from tests.factories import institution, institutions_csv, person, persons_csv, snapshot

H1, PHARMACY, H_KUNMING = "H32100000001", "P32100000011", "H53010000001"
RX = {"hosp_rxno": "HIS-RX-1", "psn_no": "P1", "prsc_dr_name": "王医生", "diag_code": "I10.x00", "diag_name": "高血压",
      "prsc_date": "2024-03-01",
      "drugs": [{"med_list_codg": "XD01", "drug_genname": "氨氯地平片", "drug_cnt": "30", "medc_days": 30}]}


@pytest.fixture
def files(db_url, tmp_path):
    """P1 retired in Yangzhou with 1000.00 in his account, a level-1 hospital and a pooled pharmacy in Yangzhou, a
    level-1 hospital in Kunming; Yangzhou's pool holds 100000.00."""
    (tmp_path / "persons.csv").write_bytes(persons_csv([
        person("P1", date(1950, 6, 1), psn_type="12", balc="1000.00")]))
    (tmp_path / "institutions.csv").write_bytes(institutions_csv([
        institution(H1, 1), institution(PHARMACY, None, otp_pool_flag="1"),
        institution(H_KUNMING, 1, region="530100")]))
    for kind in ("persons", "institutions"):
        assert run(db_url, "import", kind, str(tmp_path / f"{kind}.csv")).exit_code == 0
    assert run(db_url, "pool", "deposit", "321000", "100000.00", "--date", "2024-01-01").exit_code == 0
    return tmp_path


def write(tmp_path, name: str, data: object) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def settle(db_url: str, tmp_path, **fields) -> dict:
    visit = {"psn_no": "P1", "date": "2024-03-02", "acct_used_flag": "1", "covered": "800.00"} | fields
    result = run(db_url, "settle", write(tmp_path, "visit.json", visit), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["setlinfo"]


def test_a_prescription_added_shown_used_and_revoked(files, db_url, engine):
    added = run(db_url, "prescription", "add", write(files, "rx.json", RX), "--institution", H1)
    assert added.exit_code == 0, added.output
    # written 2024-03-01, valid 3 days counting that day
    rxno, valid_end = re.fullmatch(r"rxno (RX\w+)\nvalid_end (\S+)\n", added.stdout).groups()
    assert valid_end == "2024-03-03"
    shown = json.loads(run(db_url, "prescription", "show", rxno, "--json").stdout)
    assert (shown["fixmedins_code"], shown["psn_no"], shown["setl_id"], shown["settlements"]) == (H1, "P1", None, [])
    assert shown["drugs"] == [{"med_list_codg": "XD01", "drug_genname": "氨氯地平片", "drug_cnt": "30",
                               "medc_days": 30}]

    info = settle(db_url, files, fixmedins_code=PHARMACY, med_type="41", rxno=rxno)
    # at the pharmacy on H1's level-1 prescription, retired: (800 - 500) x 80 % = 240.00
    assert (info["act_pay_dedc"], info["hifp_pay"], info["rxno"]) == ("500.00", "240.00", rxno)
    table = run(db_url, "prescription", "show", rxno)
    assert table.exit_code == 0 and "氨氯地平片" in table.stdout and info["setl_id"] in table.stdout
    before = snapshot(engine)
    refused(run(db_url, "prescription", "revoke", rxno, "--institution", H1), rxno, "cannot be revoked")
    assert snapshot(engine) == before

    assert run(db_url, "reverse", info["setl_id"], "--institution", PHARMACY).exit_code == 0
    revoked = run(db_url, "prescription", "revoke", rxno, "--institution", H1)
    assert revoked.exit_code == 0 and revoked.stdout == f"{rxno} revoked\n"
    before = snapshot(engine)
    refused(run(db_url, "prescription", "revoke", rxno, "--institution", H1), rxno, "already revoked")
    assert snapshot(engine) == before
    assert run(db_url, "audit").exit_code == 0


def test_a_prescription_may_come_on_standard_input(files, db_url):
    added = run(db_url, "prescription", "add", "-", "--institution", H1, stdin=json.dumps(RX))
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("rxno RX")


@pytest.mark.parametrize(("data", "institution", "words"), [
    ("{not json", H1, ("malformed JSON",)),
    ({k: v for k, v in RX.items() if k != "drugs"}, H1, ("drugs", "missing")),
    (RX | {"psn_no": "P7"}, H1, ("psn_no", "P7")),
    (RX | {"prsc_date": "2024-02-30"}, H1, ("prsc_date", "2024-02-30")),
    (RX | {"drugs": [RX["drugs"][0] | {"medc_days": 0}]}, H1, ("medc_days", "0")),
    (RX, PHARMACY, ("fixmedins_code", PHARMACY)),
    (RX, "H99999999999", ("fixmedins_code", "H99999999999")),
])
def test_a_bad_prescription_is_refused_and_changes_nothing(files, db_url, engine, data, institution, words):
    before = snapshot(engine)
    refused(run(db_url, "prescription", "add", write(files, "rx.json", data), "--institution", institution), *words)
    assert snapshot(engine) == before


def test_show_and_revoke_an_unknown_prescription(files, db_url):
    refused(run(db_url, "prescription", "show", "RXNOPE"), "rxno", "RXNOPE")
    refused(run(db_url, "prescription", "revoke", "RXNOPE", "--institution", H1), "rxno", "RXNOPE")


def test_a_qualification_added_listed_and_cancelled(files, db_url, engine):
    added = run(db_url, "qualification", "add", "P1", "--disease", "M03900", "--from", "2024-01-01",
                "--institution", H1)
    assert added.exit_code == 0, added.output
    # the disease's name comes from Yangzhou's list
    sn = re.fullmatch(r"P1 qualified for M03900 高血压 from 2024-01-01: trt_dcla_detl_sn (T\w+)\n",
                      added.stdout).group(1)
    listed = json.loads(run(db_url, "qualification", "list", "P1", "--json").stdout)
    assert [(q["trt_dcla_detl_sn"], q["ide_fixmedins_no"], q["cancelled_at"]) for q in listed] == [(sn, H1, None)]
    assert sn in run(db_url, "qualification", "list", "P1").stdout
    cancelled = run(db_url, "qualification", "cancel", "P1", sn, "--memo", "复核不符")
    assert cancelled.exit_code == 0 and cancelled.stdout == f"{sn} of P1 cancelled\n"
    (q,) = json.loads(run(db_url, "qualification", "list", "P1", "--json").stdout)
    assert q["cancelled_at"] is not None and q["memo"] == "复核不符"
    before = snapshot(engine)
    refused(run(db_url, "qualification", "cancel", "P1", sn), sn, "already cancelled")
    assert snapshot(engine) == before


@pytest.mark.parametrize(("args", "words"), [
    (("add", "P1", "--disease", "Z99999", "--from", "2024-01-01"), ("opsp_dise_code", "Z99999")),
    (("add", "P1", "--disease", "M03900", "--from", "2024-02-30"), ("--from", "2024-02-30")),
    (("add", "P1", "--disease", "M03900", "--from", "2024-03-01", "--to", "2024-02-01"), ("enddate", "2024-02-01")),
    (("add", "P7", "--disease", "M03900", "--from", "2024-01-01"), ("psn_no", "P7")),
    (("cancel", "P1", "TNOPE"), ("trt_dcla_detl_sn", "TNOPE")),
    (("list", "P7"), ("psn_no", "P7")),
])
def test_bad_qualification_input_is_refused_and_changes_nothing(files, db_url, engine, args, words):
    before = snapshot(engine)
    refused(run(db_url, "qualification", *args), *words)
    assert snapshot(engine) == before


def test_a_registration_added_listed_and_revoked(files, db_url, engine):
    added = run(db_url, "registration", "add", "P1", "--region", "530000", "--reason", "referral", "--from",
                "2024-04-01", "--to", "2024-09-30")
    assert added.exit_code == 0, added.output
    number = re.fullmatch(r"registration (\d+): P1 in 530000 \(referral\) from 2024-04-01 to 2024-09-30\n",
                          added.stdout).group(1)
    (r,) = json.loads(run(db_url, "registration", "list", "P1", "--json").stdout)
    assert (str(r["id"]), r["mdtrtarea_admvs"], r["revoked_at"]) == (number, "530000", None)
    assert "referral" in run(db_url, "registration", "list", "P1").stdout
    revoked = run(db_url, "registration", "revoke", number)
    assert revoked.exit_code == 0 and revoked.stdout == f"registration {number} of P1 revoked\n"
    before = snapshot(engine)
    refused(run(db_url, "registration", "revoke", number), number, "already revoked")
    assert snapshot(engine) == before


@pytest.mark.parametrize(("args", "words"), [
    (("add", "P1", "--region", "530100", "--reason", "holiday", "--from", "2024-01-01"), ("reason", "holiday")),
    (("add", "P1", "--region", "5301", "--reason", "resident", "--from", "2024-01-01"), ("mdtrtarea_admvs", "5301")),
    (("add", "P1", "--region", "321002", "--reason", "resident", "--from", "2024-01-01"), ("321002", "own region")),
    (("add", "P1", "--region", "530100", "--reason", "resident", "--from", "1 May"), ("--from", "1 May")),
    (("add", "P7", "--region", "530100", "--reason", "resident", "--from", "2024-01-01"), ("psn_no", "P7")),
    (("revoke", "999"), ("999", "not a registration")),
    (("list", "P7"), ("psn_no", "P7")),
])
def test_bad_registration_input_is_refused_and_changes_nothing(files, db_url, engine, args, words):
    before = snapshot(engine)
    refused(run(db_url, "registration", *args), *words)
    assert snapshot(engine) == before


def test_a_registration_id_that_is_not_a_number_is_a_usage_error(files, db_url):
    result = run(db_url, "registration", "revoke", "first")
    assert result.exit_code == 2 and "registration_id" in result.stderr and "integer" in result.stderr


def test_the_clearing_of_a_month(files, db_url, engine):
    info = settle(db_url, files, fixmedins_code=H_KUNMING, date="2024-03-05")
    # P1 in Kunming without a registration: retired level 1, 80 % less 20 points = 60 %:
    # (800 - 500) x 60 % = 180.00 from Yangzhou's pool, the rest 620.00 from his account.
    assert (info["hifp_pay"], info["acct_pay"], info["psn_cash_pay"]) == ("180.00", "620.00", "0.00")
    result = run(db_url, "clearing", "--month", "2024-03", "--json")
    assert result.exit_code == 0, result.output
    # Yangzhou owes Kunming what Kunming advanced: 180.00 + 620.00 = 800.00
    yangzhou, kunming = {"admdvs": "321000", "name": "扬州市"}, {"admdvs": "530100", "name": "云南省"}
    assert json.loads(result.stdout) == {
        "month": "2024-03",
        "flows": [{"insured": yangzhou, "treating": kunming, "settlements": 1, "reversals": 0,
                   "medfee_sumamt": "800.00", "fund_pay": "180.00", "acct_pay": "620.00", "psn_cash_pay": "0.00",
                   "owed": "800.00"}],
        "nets": [{"region_a": yangzhou, "region_b": kunming, "a_owes_b": "800.00", "b_owes_a": "0.00",
                  "payer": "321000", "payee": "530100", "amount": "800.00"}]}
    table = run(db_url, "clearing", "--month", "2024-03")
    assert table.exit_code == 0 and "321000 pays 530100 800.00" in table.stdout and "321000 扬州市" in table.stdout
    empty = run(db_url, "clearing", "--month", "2024-04")
    assert empty.exit_code == 0 and "no cross-region settlements in 2024-04" in empty.stdout


@pytest.mark.parametrize("month", ["2024-13", "2024-3", "March"])
def test_a_clearing_month_that_is_not_yyyy_mm_is_refused(files, db_url, month):
    refused(run(db_url, "clearing", "--month", month), "--month", month)
