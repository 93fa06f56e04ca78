"""`gongji synth`, `gongji simulate`, `gongji tune` and `gongji import population`. Amounts worked by hand from
321000.yaml on a four-member population imported from CSV."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gongji.cli import app
from gongji.simulate.population import load

runner = CliRunner()
REGIONS = Path(__file__).parents[2] / "gongji" / "policy" / "regions"
MEMBERS_CSV = """psn,sex,birth_date,retired,contribution_base,pension,prev_year_credit,household,relation
1,1,1980-05-10,0,5000.00,0,,1,self
2,2,1950-03-15,1,0,3500.00,,2,self
3,2,1994-07-02,0,6000.50,0,,3,self
4,1,1970-10-10,0,5000.00,0,,4,self
"""
VISITS_CSV = """psn,date,level,pharmacy,prescribed,covered
1,2024-02-01,1,0,1,400.00
1,2024-05-01,2,0,1,500.00
1,2024-09-01,1,1,1,300.00
2,2024-03-01,1,0,1,1000.00
2,2024-06-01,1,1,0,200.00
2,2024-12-01,3,0,1,12000.00
4,2024-04-10,3,0,1,1600.00
"""
YANGZHOU = ["--a", "321000@2022-06-01", "--b", "321000@2024-06-01"]


def _run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _json(*args: str) -> dict:
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _refused(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "pop"
    result = _run("synth", "--members", 2000, "--region", "321000", "--year", 2024, "--seed", 3, "--out", out)
    assert result.exit_code == 0, result.output
    pop = load(out)
    assert pop.members.height == 2000
    assert result.stdout.strip().endswith(
        f"{out}: 2,000 members, {pop.visits.height:,} visits in 2024 (321000, seed 3)")
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The four members of tests/simulate/test_whatif.py, imported from CSV."""
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "members.csv").write_text(MEMBERS_CSV, encoding="utf-8")
    (folder / "visits.csv").write_text(VISITS_CSV, encoding="utf-8")
    out = folder / "pop"
    result = _run("import", "population", folder / "members.csv", "--visits", folder / "visits.csv", "--region",
                  "321000", "--year", 2024, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{out}: 4 members, 7 visits in 2024 (321000)"
    return out


def test_synth_writes_a_population_folder(synthetic):
    assert sorted(p.name for p in synthetic.iterdir()) == ["members.parquet", "population.json", "visits.parquet"]
    meta = json.loads((synthetic / "population.json").read_text(encoding="utf-8"))
    assert (meta["source"], meta["seed"], meta["region"], meta["year"], meta["members"]) == (
        "synth", 3, "321000", 2024, 2000)


def test_synth_is_reproducible(tmp_path, synthetic):
    result = _run("synth", "--members", 2000, "--region", "321000", "--year", 2024, "--seed", 3, "--out",
                  tmp_path / "again")
    assert result.exit_code == 0, result.output
    a, b = load(synthetic), load(tmp_path / "again")
    assert a.members.equals(b.members) and a.visits.equals(b.visits)


@pytest.mark.parametrize(("args", "message"), [
    (["--members", "0"], "--members: 0 must be at least 1"),
    (["--members", "10", "--region", "3210"], "--region: '3210' is not a 6-digit admdvs"),
    (["--members", "10", "--year", "99999"], "--year: 99999 is not a year"),
])
def test_synth_refuses_bad_options(tmp_path, args, message):
    options = {"--members": "10", "--region": "321000", "--year": "2024"}
    options |= dict(zip(args[::2], args[1::2], strict=True))
    result = _run("synth", *[x for kv in options.items() for x in kv], "--out", tmp_path / "pop")
    _refused(result, message)
    assert not (tmp_path / "pop").exists()


def test_synth_refuses_a_bad_calibration_and_an_occupied_folder(tmp_path, synthetic):
    bad = tmp_path / "cal.yaml"
    bad.write_text("visits: {}\n", encoding="utf-8")
    _refused(_run("synth", "--members", 10, "--region", "321000", "--year", 2024, "--out", tmp_path / "pop",
                  "--calibration", bad), f"--calibration {bad}: ")
    assert not (tmp_path / "pop").exists()
    before = {p.name: p.read_bytes() for p in synthetic.iterdir()}
    _refused(_run("synth", "--members", 10, "--region", "321000", "--year", 2024, "--out", synthetic),
             f"--out {synthetic}: already holds a population")
    assert {p.name: p.read_bytes() for p in synthetic.iterdir()} == before


def test_simulate_json_by_hand(tiny):
    out = _json("simulate", tiny, *YANGZHOU)
    assert out["population"] == {"region": "321000", "year": 2024, "members": 4, "visits": 7}
    # see tests/simulate/test_whatif.py: credits 7440.24 before, 4740.12 after; reimbursement 405 + 8000 + 600
    assert out["transfer"]["moved_out_of_accounts"] == "2700.12"
    assert out["transfer"]["reimbursement_added"] == "9005.00"
    assert out["transfer"]["difference"] == "6304.88"
    assert out["flows"]["a"]["contributions"] == "17280.60"  # 5400.00 + 6480.60 + 5400.00
    assert out["flows"]["b"]["pool_net"] == "3535.48"  # 17280.60 - 3840.12 - 900.00 - 9005.00
    assert (out["effects"]["ahead"], out["effects"]["behind"], out["effects"]["even"]) == (1, 2, 1)
    assert [(g["member_type"], g["age_band"], g["net"]) for g in out["groups"]] == [
        ("in_service", "<30", "-720.12"), ("in_service", "40-49", "-195.00"), ("in_service", "50-59", "0.00"),
        ("retired", "70-79", "7220.00")]


def test_simulate_json_on_a_synthetic_population(synthetic):
    out = _json("simulate", synthetic, *YANGZHOU)
    assert set(out) == {"population", "a", "b", "flows", "transfer", "effects", "groups"}
    assert out["population"]["members"] == 2000
    assert out["flows"]["a"]["outpatient"] == "0.00"  # no outpatient pooling before the reform
    assert sum(g["members"] for g in out["groups"]) == 2000
    assert out["effects"]["members"] == 2000


def test_simulate_prints_tables(tiny, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = _run("simulate", tiny, *YANGZHOU)
    assert result.exit_code == 0, result.output
    for text in ("321000 2024: 4 members, 7 visits", "资金平移", "fund flows", "2,700.12", "9,005.00", "6,304.88",
                 "17,280.60", "7,220.00", "-720.12", "net effect per member"):
        assert text in result.stdout, text


def test_simulate_with_an_edited_policy_file(tiny, tmp_path):
    text = (REGIONS / "321000.yaml").read_text(encoding="utf-8")
    edited = tmp_path / "321000-plus5.yaml"
    edited.write_text(text.replace("in_service: {1: 70%, 2: 65%, 3: 60%}", "in_service: {1: 75%, 2: 70%, 3: 65%}"),
                      encoding="utf-8")
    out = _json("simulate", tiny, *YANGZHOU, "--policy-file", edited)
    # in service 5 points up: member 1 300 x 70 % + 300 x 75 % = 435.00, member 4 1000 x 65 % = 650.00;
    # the retiree's 8000.00 unchanged: 9085.00
    assert out["transfer"]["reimbursement_added"] == "9085.00"
    assert out["b"].startswith("321000@2024-06-01 (321000-plus5.yaml): ")


@pytest.mark.parametrize(("args", "message"), [
    (["--a", "321000-2022", "--b", "321000@2024-06-01"], "--a '321000-2022': give REGION@DATE"),
    (["--a", "999999@2024-06-01", "--b", "321000@2024-06-01"], "--a 999999@2024-06-01: unknown region"),
    (["--a", "321000@2022-06-01", "--b", "321000@2021-06-01"], "--b 321000@2021-06-01: region 321000 has no"),
    ([*YANGZHOU, "--engine", "foo"], "--engine: 'foo' is not polars or spark"),
    ([*YANGZHOU, "--policy-file", REGIONS / "530000.yaml"], "is region 530000, not 321000 of --b"),
])
def test_simulate_refuses_bad_options(tiny, args, message):
    _refused(_run("simulate", tiny, *args), message)


def test_simulate_refuses_a_folder_without_a_population(tmp_path):
    _refused(_run("simulate", tmp_path / "nothing", *YANGZHOU), "not a population folder")


def test_tune_json(synthetic):
    out = _json("tune", synthetic, "--region", "321000", "--budget", "transfer", "--deductible-factors", "1",
                "--cap-factors", "1,2", "--sample", "0")
    assert out["budget"] == out["transfer"]
    assert len(out["candidates"]) + out["unaffordable"] == 2
    assert all(c["deductible_factor"] == "1" for c in out["candidates"])
    assert {c["cap_factor"] for c in out["candidates"]} <= {"1", "2"}
    assert all(c["members"] == 2000 for c in out["candidates"])
    assert any(c["frontier"] for c in out["candidates"]) == bool(out["candidates"])


def test_tune_by_hand(tiny):
    out = _json("tune", tiny, "--region", "321000", "--budget", "9085", "--deductible-factors", "1",
                "--cap-factors", "1", "--sample", "0")
    # see tests/simulate/test_tune.py: 9005.00 + 16.00 a point, 9085.00 pays for 5 points
    assert out["budget"] == "9085.00" and out["transfer"] == "2700.12"
    (c,) = out["candidates"]
    assert (c["ratio_shift"], c["cost"], c["members_ahead"], c["frontier"]) == ("5%", "9085.00", 2, True)


def test_tune_prints_a_table(tiny, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = _run("tune", tiny, "--region", "321000", "--budget", "9085", "--deductible-factors", "1",
                  "--cap-factors", "1", "--sample", "0")
    assert result.exit_code == 0, result.output
    for text in ("budget 9,085.00 yuan a year", "moves 2,700.12 yuan out of accounts", "9,085.00", "50.0%"):
        assert text in result.stdout, text


@pytest.mark.parametrize(("args", "message"), [
    (["--budget", "abc"], "--budget: 'abc' is not an amount in yuan or `transfer`"),
    (["--budget", "0"], "--budget: '0' must be above 0"),
    (["--budget", "1.001"], "--budget: '1.001' is not an amount"),
    (["--budget", "transfer", "--deductible-factors", "0"], "--deductible-factors: '0': every factor must be above 0"),
    (["--budget", "transfer", "--cap-factors", "1,x"], "--cap-factors: '1,x' is not a list of numbers"),
    (["--budget", "transfer", "--sample", "-1"], "--sample: -1 must be 0 or more"),
    (["--budget", "transfer", "--on", "2021-06-01"], "--on 2021-06-01: region 321000 has no policy version"),
    (["--budget", "transfer", "--on", "June"], "--on 'June': not a date"),
    (["--budget", "transfer", "--before", "321000"], "--before '321000': give REGION@DATE"),
])
def test_tune_refuses_bad_options(tiny, args, message):
    _refused(_run("tune", tiny, "--region", "321000", *args), message)


def test_tune_refuses_a_region_without_a_pre_reform_version(tiny):
    _refused(_run("tune", tiny, "--region", "530000", "--budget", "transfer"),
             "--before: 云南省 530000 has no pre-reform version")


def test_import_population_refuses_a_bad_row_and_writes_nothing(tmp_path):
    (tmp_path / "members.csv").write_text(MEMBERS_CSV, encoding="utf-8")
    (tmp_path / "visits.csv").write_text(VISITS_CSV.replace("3,0,1,12000.00", "4,0,1,12000.00"), encoding="utf-8")
    result = _run("import", "population", tmp_path / "members.csv", "--visits", tmp_path / "visits.csv", "--region",
                  "321000", "--year", 2024, "--out", tmp_path / "pop")
    _refused(result, "visits.csv row 6: level: 4 is not 1, 2 or 3")
    assert not (tmp_path / "pop").exists()


@pytest.mark.parametrize(("drop", "message"), [
    ("--visits", "import population needs --visits"),
    ("--region", "import population needs --region"),
    ("--out", "import population needs --out"),
])
def test_import_population_needs_its_options(tmp_path, drop, message):
    options = {"--visits": tmp_path / "visits.csv", "--region": "321000", "--year": "2024", "--out": tmp_path / "pop"}
    del options[drop]
    _refused(_run("import", "population", tmp_path / "members.csv", *[x for kv in options.items() for x in kv]),
             message)
    assert not (tmp_path / "pop").exists()
