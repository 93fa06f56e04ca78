"""`gongji compare-me`: amounts worked by hand from 321000.yaml, 530000.yaml and tests/policies/990100.yaml."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gongji.cli import app
from tests.conftest import TEST_POLICIES

runner = CliRunner()
EXAMPLE = Path(__file__).parents[2] / "examples" / "compare-me-visits.json"
RETIREE = ["--region", "321000", "--type", "retired", "--age", "72", "--pension", "3500"]


def _run(*args, stdin=None):
    return runner.invoke(app, ["compare-me", *args], input=stdin)


def _json(*args, stdin=None):
    result = _run(*args, "--json", stdin=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_retiree_with_a_years_covered_cost():
    out = _json(*RETIREE, "--annual-covered", "3000", "--year", "2024")
    # before (2022 pre-reform): 3500.00 x 4% = 140.00 a month; no pooling
    # after (2024): 3000.00 x 2.5% = 75.00 a month; 12 x 250.00 at level 1: (3000 - 500) x 80% = 2,000.00
    assert (out["before"]["account_credit"], out["after"]["account_credit"]) == ("1680.00", "900.00")
    assert (out["before"]["reimbursement"], out["after"]["reimbursement"]) == ("0.00", "2000.00")
    assert (out["before"]["out_of_pocket"], out["after"]["out_of_pocket"]) == ("3000.00", "1000.00")
    assert out["net_effect"] == "1220.00"  # (900 - 1680) + 2000
    assert (out["year"], out["birth_date"], out["visits"], out["covered"]) == (2024, "1952-01-01", 12, "3000.00")
    assert out["before"]["pre_reform"] and out["after"]["effective_from"] == "2024-01-01"
    assert out["words"]["zh"] == ("个人账户每年少划入 780.00 元，门诊统筹每年多报销 2,000.00 元，"
                                  "合计每年多得 1,220.00 元。")
    assert out["words"]["en"].endswith("in all you come out 1,220.00 yuan a year ahead.")


def test_the_table_and_the_plain_words(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = _run(*RETIREE, "--annual-covered", "3000", "--year", "2024")
    assert result.exit_code == 0, result.output
    for text in ("扬州市 321000", "account credit", "reimbursement", "out of pocket", "1,680.00", "-780.00",
                 "+2,000.00", "+1,220.00", "before: 改革前", "个人账户每年少划入 780.00 元",
                 "Your account is credited 780.00 yuan less a year", "1,220.00 yuan a year ahead"):
        assert text in result.stdout, text


def test_the_example_visits_set_the_year():
    out = _json(*RETIREE, "--expected-visits", str(EXAMPLE))
    # the visits are in 2024, so the year is 2024 whatever today is. After: deductible 500.00 from 180.00 + 220.00
    # + 100.00 of the level-2 650.00; 550 x 75% = 412.50; pharmacy, level-3 prescriber: 400 x 70% = 280.00;
    # 300 x 80% = 240.00; 1200 x 70% = 840.00; 250 x 80% = 200.00; in all 1,972.50
    assert (out["year"], out["visits"], out["covered"]) == (2024, 7, "3200.00")
    assert out["after"]["reimbursement"] == "1972.50" and out["after"]["out_of_pocket"] == "1227.50"
    assert out["net_effect"] == "1192.50"  # -780.00 + 1972.50


def test_a_whole_quote_request_gives_its_visits(tmp_path):
    path = tmp_path / "request.json"
    request = {"region": "530000", "person": {"type": "in_service", "birth_date": "1990-01-01"},
               "visits": [{"date": "2024-05-01", "level": 1, "covered": "1500.00"}]}
    path.write_text(json.dumps(request), encoding="utf-8")
    # only the visits are used: the member is the options' Yangzhou retiree: (1500 - 500) x 80% = 800.00
    out = _json(*RETIREE, "--expected-visits", str(path))
    assert (out["region"], out["member_type"], out["after"]["reimbursement"]) == ("321000", "retired", "800.00")
    assert _json(*RETIREE, "--expected-visits", "-", stdin=json.dumps(request["visits"]))["net_effect"] == "20.00"


def test_an_in_service_member_by_psn_type_code():
    out = _json("--region", "321000", "--type", "11", "--age", "45", "--base", "8000", "--annual-covered", "3000",
                "--year", "2024")
    # 8000 x 3% = 240.00 a month before, 8000 x 2% = 160.00 after; (3000 - 600) x 70% = 1,680.00
    assert (out["member_type"], out["before"]["account_credit"], out["after"]["account_credit"]) == (
        "in_service", "2880.00", "1920.00")
    assert (out["after"]["reimbursement"], out["net_effect"]) == ("1680.00", "720.00")


def test_the_transition_year_from_the_on_date():
    out = _json(*RETIREE, "--annual-covered", "3000", "--on", "2023-06-01")
    # the version in force on 2023-06-01, year 2023: the 2022 total 1,680.00 / 12 = 140.00 a month
    assert out["year"] == 2023 and out["after"]["monthly_credits"] == ["140.00"] * 12
    assert out["net_effect"] == "2000.00"


def test_a_yunnan_retiree_with_a_test_policy_before(tmp_path):
    path = tmp_path / "visits.json"
    path.write_text(json.dumps([{"date": "2025-03-15", "level": 1, "covered": "200.00"},
                                {"date": "2025-08-15", "level": 1, "covered": "200.00"}]), encoding="utf-8")
    out = _json("--region", "530925", "--type", "12", "--birth-date", "1955-06-10", "--expected-visits", str(path),
                "--before", "990100@2025-01-01", "--after", "530000@2025-06-01", "--policy-dir", str(TEST_POLICIES))
    # 70 from 10 June 2025: 530000 credits 106.00 x 6 + 142.00 x 6 = 1,488.00, 990100 100.00 x 6 + 150.00 x 6 =
    # 1,500.00; reimbursed 530000 (200 - 20) x 70% x 2 = 252.00, 990100 (200 - 50) x 80% + 200 x 90% = 300.00
    assert (out["before"]["account_credit"], out["after"]["account_credit"]) == ("1500.00", "1488.00")
    assert (out["before"]["reimbursement"], out["after"]["reimbursement"]) == ("300.00", "252.00")
    assert out["net_effect"] == "-60.00"  # -12.00 - 48.00
    assert out["words"]["en"].endswith("in all you come out 60.00 yuan a year behind.")
    assert out["pension"] is None


def test_annual_covered_is_split_exactly():
    out = _json(*RETIREE, "--annual-covered", "1000.01", "--level", "2", "--year", "2024")
    # 1000.01 = 5 x 83.34 + 7 x 83.33, on the 15th of each month at level 2
    assert out["covered"] == "1000.01" and out["visits"] == 12
    # visits 1-5 of 83.34 = 416.70 go to the deductible; visit 6 of 83.33 pays its last 83.30, leaving 0.03:
    # x 75% = 0.0225 -> 0.02; visits 7-12: 83.33 x 75% = 62.4975 -> 62.50, x 6 = 375.00; in all 375.02
    assert out["after"]["reimbursement"] == "375.02"


def _visits_file(tmp_path, body):
    path = tmp_path / "visits.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return str(path)


BASE = ["--region", "321000", "--type", "retired", "--age", "72", "--pension", "3500", "--year", "2024"]


@pytest.mark.parametrize(("args", "message"), [
    (["--region", "110000", "--type", "retired", "--age", "72", "--annual-covered", "1"],
     "--region '110000': unknown region '110000'"),
    (["--region", "32100", "--type", "retired", "--age", "72", "--annual-covered", "1"],
     "--region '32100': region '32100' is not a 6-digit region code"),
    (["--region", "321000", "--type", "other", "--age", "72", "--annual-covered", "1"],
     "--type 'other': give retired (12) or in_service (11)"),
    ([*BASE[:6], "--pension", "-1", "--annual-covered", "1"], "--pension -1: must not be negative"),
    ([*BASE[:6], "--pension", "3500.001", "--annual-covered", "1"], "--pension 3500.001: '3500.001' has more than "
     "two decimals"),
    ([*BASE, "--annual-covered", "-3000"], "--annual-covered -3000: must not be negative"),
    ([*BASE, "--annual-covered", "abc"], "--annual-covered abc: 'abc' is not a plain decimal number"),
    ([*BASE, "--annual-covered", "1", "--previous-year-credit", "1.234"], "--previous-year-credit 1.234:"),
    (["--region", "321000", "--type", "retired", "--age", "15", "--pension", "1", "--annual-covered", "1"],
     "--age 15: give an age from 16 to 120"),
    (["--region", "321000", "--type", "retired", "--age", "121", "--pension", "1", "--annual-covered", "1"],
     "--age 121: give an age from 16 to 120"),
    (["--region", "321000", "--type", "retired", "--birth-date", "2015-05-05", "--pension", "1", "--annual-covered",
      "1", "--year", "2024"], "--birth-date 2015-05-05: the member is 8 on 1 January 2024"),
    (["--region", "321000", "--type", "retired", "--birth-date", "1950-02-30", "--pension", "1", "--annual-covered",
      "1"], "--birth-date '1950-02-30': not a date"),
    (["--region", "321000", "--type", "retired", "--pension", "1", "--annual-covered", "1"],
     "give one of --age and --birth-date"),
    ([*BASE, "--birth-date", "1950-01-01", "--annual-covered", "1"], "--age and --birth-date: give only one"),
    (BASE, "give one of --expected-visits FILE and --annual-covered YUAN"),
    ([*BASE, "--annual-covered", "1", "--expected-visits", str(EXAMPLE)],
     "--expected-visits and --annual-covered: give only one of them"),
    ([*BASE, "--expected-visits", str(EXAMPLE), "--level", "2"], "--level 2: it goes with --annual-covered"),
    ([*BASE, "--annual-covered", "1", "--level", "4"], "--level 4: give 1, 2 or 3"),
    (["--region", "321000", "--type", "in_service", "--age", "40", "--base", "8000", "--pension", "3500",
      "--annual-covered", "1"], "--pension 3500: a pension is for --type retired"),
    ([*BASE, "--base", "8000", "--annual-covered", "1"], "--base 8000: a contribution base is for --type in_service"),
    (["--region", "321000", "--type", "in_service", "--age", "40", "--annual-covered", "1"],
     "--base: an in-service member's credit is a percent of the monthly contribution base"),
    (["--region", "321000", "--type", "retired", "--age", "72", "--annual-covered", "1"],
     "--pension: 改革前 (pre-reform model, illustrative) credits retirees 4% of their own monthly pension; give it"),
    ([*BASE, "--annual-covered", "1", "--before", "321000@2021-06-01"],
     "--before 321000@2021-06-01: region 321000 has no policy version in force on 2021-06-01"),
    ([*BASE, "--annual-covered", "1", "--before", "321000"], "--before '321000': give REGION@DATE"),
    ([*BASE, "--annual-covered", "1", "--after", "321000@yesterday"],
     "--after '321000@yesterday': 'yesterday' is not a date"),
    ([*BASE, "--annual-covered", "1", "--after", "110000@2024-01-01"],
     "--after 110000@2024-01-01: unknown region '110000'"),
    ([*BASE, "--annual-covered", "1", "--on", "2021-06-01"],
     "--on 2021-06-01: region 321000 has no policy version in force on 2021-06-01"),
    ([*BASE, "--annual-covered", "1", "--on", "2024-01-01", "--after", "321000@2024-01-01"],
     "--on 2024-01-01: it sets the date of the default --after"),
    ([*BASE, "--annual-covered", "1", "--year", "1800"], "--year 1800: give a year from 1900 to 2200"),
    (["--region", "530000", "--type", "retired", "--age", "72", "--annual-covered", "1"],
     "--before: 云南省 530000 has no pre-reform version (pre_reform: true) in its policy file; give the policy to "
     "compare with as --before REGION@DATE"),
    ([*BASE, "--expected-visits", "/nonexistent/visits.json"], "--expected-visits /nonexistent/visits.json: cannot "
     "read it"),
])
def test_bad_input_exits_2_naming_the_option(args, message):
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(("body", "message"), [
    ("[{", "malformed JSON"),
    ('"visits"', "give a list of visits or a quote request with visits"),
    ({"region": "321000"}, "visits: missing"),
    ([{"date": "2024-03-01", "level": 1, "covered": "1.00"}, {"date": "2024-03-02", "level": 4, "covered": "1.00"}],
     "visits[1].level: Input should be 1, 2 or 3 (value: 4)"),
    ([{"date": "2024-03-01", "level": 1, "covered": "1.001"}],
     "visits[0].covered: '1.001' has more than two decimals"),
    ([{"date": "2024-03-01", "level": 1}], "visits[0]: give either covered or lines"),
    ([{"date": "2024-03-01", "level": 1, "covered": "1.00", "colour": "red"}], "visits[0].colour: unknown key"),
    ([{"date": "2024-03-01", "level": 1, "covered": "1.00", "disease": "M03900"}], "visits[0].disease: 'M03900': a "
     "chronic or special disease visit is settled under its own benefit"),
    ([{"date": "2024-03-01", "level": 1, "covered": "1.00"}, {"date": "2025-01-02", "level": 1, "covered": "1.00"}],
     "visits[1].date: 2025-01-02 is not in 2024, the year compared"),
])
def test_a_bad_visits_file_names_the_field(tmp_path, body, message):
    path = _visits_file(tmp_path, body)
    result = _run(*BASE, "--expected-visits", path)
    assert result.exit_code == 2, result.output
    assert f"--expected-visits {path}: {message}" in result.stderr, result.stderr
