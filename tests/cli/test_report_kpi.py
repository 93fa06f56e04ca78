"""`gongji report kpi --year YYYY` from the outside, on SQLite and PostgreSQL: the figures as a table and as
JSON, and a bad --year or --region refused with exit status 2 and one line naming the value.

The year is the one of tests/services/test_kpi_db.py (`build_year`), whose figures are worked by hand there.
"""

from __future__ import annotations

import json

import pytest

from tests.cli.test_ops import refused, run
from tests.services.test_kpi_db import build_year


@pytest.fixture
def year(engine, book):
    build_year(engine, book)


def test_json(year, db_url):
    result = run(db_url, "report", "kpi", "--year", "2024", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # settlements 5 (one reversed, left out); fund paid 590.00 pooling + 425.00 chronic = 1015.00 of 2420.00
    assert (data["year"], data["admdvs"], data["settlements"], data["reversed"]) == (2024, None, 5, 1)
    assert (data["medfee_sumamt"], data["fund_paid"], data["relief_share"]) == ("2420.00", "1015.00", "41.94%")
    assert (data["pharmacy_pooling_settlements"], data["pharmacy_average"]) == (1, "130.00")
    assert (data["account_income"], data["account_paid_family"]) == ("195.19", "450.00")
    assert (data["members_in_service"], data["members_retired"]) == (2, 1)


def test_json_of_one_region(year, db_url):
    result = run(db_url, "report", "kpi", "--year", "2024", "--region", "530900", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # L1's visit alone: (120 - 20) x 60 % = 60.00; no pharmacy visit: no average
    assert (data["admdvs"], data["settlements"], data["fund_paid"], data["pharmacy_average"]) == (
        "530900", 1, "60.00", None)


def test_table(year, db_url):
    result = run(db_url, "report", "kpi", "--year", "2024")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()

    def value(label: str) -> str:
        found = [line for line in lines if label in line]
        assert len(found) == 1, (label, result.stdout)
        return found[0].split("│")[-2].strip()

    assert value("outpatient pooling settlements 门诊统筹结算人次") == "4"
    assert value("medical cost 医疗费用总额") == "2,420.00"
    assert value("fund paid 统筹基金支付 (yuan)") == "1,015.00"
    assert value("share of the cost") == "41.94%"
    assert value("reimbursed per pharmacy visit") == "130.00"
    assert value("relatives' care 家庭共济") == "450.00"
    assert value("per day (366 days)") == "0.01"


def test_an_empty_year_shows_no_average(year, db_url):
    result = run(db_url, "report", "kpi", "--year", "2023")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "reimbursed per pharmacy visit" in line)
    assert line.split("│")[-2].strip() == "-"


@pytest.mark.parametrize("bad", ["24", "2024-01", "abcd", "0999"])
def test_a_bad_year_is_refused(db_url, bad):
    refused(run(db_url, "report", "kpi", "--year", bad), "--year", repr(bad))


def test_a_bad_region_is_refused(db_url):
    refused(run(db_url, "report", "kpi", "--year", "2024", "--region", "3210"), "--region", "'3210'")


def test_an_uninitialised_database_is_refused(tmp_path):
    refused(run(f"sqlite:///{tmp_path / 'empty.sqlite'}", "report", "kpi", "--year", "2024"), "gongji init")
