import json

import pytest
from typer.testing import CliRunner

from gongji.cli import app
from tests.conftest import TEST_POLICIES

runner = CliRunner()

YANGZHOU = {"region": "321000", "person": {"type": "in_service", "birth_date": "1960-05-01"},
            "visits": [{"date": "2024-03-01", "level": 1, "covered": "3000.00"},
                       {"date": "2024-04-02", "level": 3, "covered": "800.00", "setting": "pharmacy"}]}


def _quote(body, *args):
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return runner.invoke(app, ["quote", "-", *args], input=text)


def test_quote_json_from_stdin():
    result = _quote(YANGZHOU, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # (3000 - 600) x 70% = 1680; the level-3 prescription at a pharmacy 800 x 60% = 480
    first, second = out["visits"]
    assert (first["act_pay_dedc"], first["hifp_pay"], first["pool_prop"], first["psn_part_amt"]) == \
        ("600.00", "1680.00", "0.7000", "1320.00")
    assert (second["hifp_pay"], second["pool_prop"], second["psn_part_amt"]) == ("480.00", "0.6000", "320.00")
    assert {"inscp_scp_amt", "over_cap_amt"} <= set(first)
    assert out["totals"]["hifp_pay"] == "2160.00"
    assert out["totals"]["inscp_scp_amt"] == "3800.00"


def test_an_account_balance_pays_the_member_share_until_it_runs_out():
    result = _quote(YANGZHOU | {"account_balance": "1500.00"}, "--json")
    assert result.exit_code == 0, result.output
    first, second = json.loads(result.stdout)["visits"]
    # member shares 1320.00 then 320.00: the account pays 1320.00 (180.00 left), then 180.00 and 140.00 cash
    assert (first["acct_pay"], first["psn_cash_pay"], first["balc"]) == ("1320.00", "0.00", "180.00")
    assert (second["acct_pay"], second["psn_cash_pay"], second["balc"]) == ("180.00", "140.00", "0.00")
    totals = json.loads(result.stdout)["totals"]
    assert (totals["acct_pay"], totals["psn_cash_pay"], totals["balc"]) == ("1500.00", "140.00", "0.00")


def test_disease_and_cross_region_visits_in_json():
    body = YANGZHOU | {"visits": [
        {"date": "2024-03-01", "level": 1, "covered": "1000.00", "disease": "M03900"},
        {"date": "2024-03-01", "level": 1, "covered": "1600.00", "treated_in": "110000"},
        {"date": "2024-03-02", "level": 1, "covered": "1000.00", "treated_in": "110000", "registration": "temporary"}]}
    result = _quote(body, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    disease, away, registered = out["visits"]
    # M03900 (321000.yaml): 1000 x 80 % = 800.00 under the disease's benefit, ordinary pooling untouched
    assert (disease["benefit"], disease["chronic_pay"], disease["hifp_pay"], disease["pool_prop"]) == (
        "M03900", "800.00", "0.00", "0.8000")
    # unregistered elsewhere, 70 % - 20 points: (1600 - 600) x 50 % = 500.00
    assert (away["benefit"], away["treated_in"], away["registration"], away["ratio_cut"], away["hifp_pay"]) == (
        "ordinary", "110000", None, "0.2000", "500.00")
    assert "未备案" in away["note"] and disease["note"] is None
    # registered for a temporary stay, 70 % - 10 points: 1000 x 60 % = 600.00
    assert (registered["registration"], registered["ratio_cut"], registered["hifp_pay"]) == ("temporary", "0.1000",
                                                                                            "600.00")
    assert (out["totals"]["chronic_pay"], out["totals"]["hifp_pay"]) == ("800.00", "1100.00")


def test_the_table_shows_the_benefit_and_where_care_was(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    body = YANGZHOU | {"visits": [{"date": "2024-03-01", "level": 1, "covered": "1000.00", "disease": "M03900"},
                                  {"date": "2024-03-02", "level": 1, "covered": "1600.00", "treated_in": "110000"}]}
    result = _quote(body)
    assert result.exit_code == 0, result.output
    for text in ("benefit", "M03900", "ordinary", "chronic", "800.00", "treated in", "110000", "500.00",
                 "visit 2 (2024-03-02): 异地就医 in 110000 without a registration"):
        assert text in result.stdout, text
    assert "treated in" not in _quote(YANGZHOU).stdout  # only when some visit is elsewhere


def test_quote_table_from_a_file(tmp_path):
    path = tmp_path / "visits.json"
    path.write_text(json.dumps(YANGZHOU), encoding="utf-8")
    result = runner.invoke(app, ["quote", str(path)])
    assert result.exit_code == 0, result.output
    assert "扬州市" in result.stdout and "1680.00" in result.stdout and "2160.00" in result.stdout


def test_the_policy_dir_option_adds_regions():
    body = YANGZHOU | {"region": "990100"}
    assert _quote(body, "--json").exit_code == 2
    result = _quote(body, "--json", "--policy-dir", str(TEST_POLICIES))
    assert result.exit_code == 0, result.output
    # top-up deductible 100 at level 1: (3000 - 100) x 70% = 2030
    assert json.loads(result.stdout)["visits"][0]["hifp_pay"] == "2030.00"


def test_the_policy_dir_from_the_environment(monkeypatch):
    monkeypatch.setenv("GONGJI_POLICY_DIR", str(TEST_POLICIES))
    assert _quote(YANGZHOU | {"region": "990100"}, "--json").exit_code == 0


def _visit(**change):
    return YANGZHOU | {"visits": [{"date": "2024-03-01", "level": 1, "covered": "3000.00"} | change]}


@pytest.mark.parametrize(("body", "message"), [
    (YANGZHOU | {"region": "110000"}, "region: unknown region '110000'"),
    (YANGZHOU | {"region": "32100"}, "region: region '32100' is not a 6-digit region code"),
    (_visit(date="2021-06-01"), "visits[0].date: region 321000 has no policy version in force on 2021-06-01"),
    (_visit(level=4), "visits[0].level: Input should be 1, 2 or 3 (value: 4)"),
    (_visit(covered="-5.00"), "visits[0].covered: must not be negative (value: '-5.00')"),
    (_visit(covered="5.001"), "visits[0].covered: '5.001' has more than two decimals (amount in yuan)"),
    (_visit(colour="red"), "visits[0].colour: unknown key (value: 'red')"),
    (YANGZHOU | {"extra": 1}, "extra: unknown key (value: 1)"),
    (YANGZHOU | {"account_balance": "-1.00"}, "account_balance: must not be negative"),
    (_visit(setting="home"), "visits[0].setting: Input should be 'clinic' or 'pharmacy' (value: 'home')"),
    (_visit(lines=[]), "visits[0]: give either covered or lines"),
    (_visit(covered=None), "visits[0]: give either covered or lines"),
    (_visit(covered=None, lines=[{"code": "x", "class": "乙", "price": "1.00", "quantity": 1}]),
     "visits[0].lines[0]: a class 乙 line needs its first self-pay share"),
    (_visit(covered=None, lines=[{"code": "x", "class": "丁", "price": "1.00", "quantity": 1}]),
     "visits[0].lines[0]: class '丁' is not one of 甲, 乙, 丙"),
    (_visit(covered=None, lines=[{"code": "x", "class": "甲", "price": "-1.00", "quantity": 1}]),
     "visits[0].lines[0].price: must not be negative"),
    (_visit(date="2024-02-30"), "visits[0].date: Input should be a valid date"),
    (_visit(disease="M03900", setting="pharmacy"),
     "visits[0]: disease 'M03900': a chronic or special disease visit (med_type 14) is at a medical institution"),
    (_visit(disease="X99"), "visits[0].disease: 'X99' is not on the chronic and special disease list of 321000"),
    (_visit(registration="resident"), "visits[0]: registration 'resident' goes with treated_in"),
    (_visit(treated_in="11000"), "visits[0].treated_in: String should match pattern"),
    (_visit(treated_in="110000", registration="visiting"),
     "visits[0].registration: Input should be 'resident', 'referral' or 'temporary' (value: 'visiting')"),
    (_visit(treated_in="321002", registration="temporary"),
     "visits[0].registration: 321002 is in the member's own region 321000"),
    (YANGZHOU | {"person": {"type": "student", "birth_date": "1960-05-01"}},
     "person.type: Input should be 'in_service' or 'retired' (value: 'student')"),
    (YANGZHOU | {"person": {"type": "retired", "birth_date": "2025-01-01"}},
     "visits[0].date: 2024-03-01 is before the person's birth date"),
    (YANGZHOU | {"visits": []}, "visits: List should have at least 1 item"),
    ({"person": YANGZHOU["person"], "visits": YANGZHOU["visits"]}, "region: missing"),
    ('{"region": "321000",', "malformed JSON: Expecting"),
    ("[1, 2]", "Input should be a valid dictionary"),
])
def test_bad_input_is_one_line_and_status_2(body, message):
    result = _quote(body, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def test_a_missing_file():
    result = runner.invoke(app, ["quote", "/nonexistent/visits.json"])
    assert result.exit_code == 2
    assert "cannot read /nonexistent/visits.json" in result.stderr


def test_a_bad_policy_dir_names_the_file(tmp_path):
    (tmp_path / "bad.yaml").write_text('admdvs: "990300"\nname: x\nversions: 5\n', encoding="utf-8")
    result = _quote(YANGZHOU, "--policy-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "bad.yaml: versions: Input should be a valid list (value: 5)" in result.stderr


def test_policy_check_lists_versions():
    result = runner.invoke(app, ["policy", "check", "--policy-dir", str(TEST_POLICIES)])
    assert result.exit_code == 0, result.output
    for text in ("321000", "530000", "990100", "2024-11-01", "云南省"):
        assert text in result.stdout
