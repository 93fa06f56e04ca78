"""The database commands from the outside: output, exit status 2 and one line on bad input, nothing changed."""

import json
from datetime import date

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from gongji.cli import app
from gongji.store.tables import accounts
from tests.factories import csv_bytes, institution, institutions_csv, person, persons_csv, snapshot

runner = CliRunner()


def run(db_url: str, *args: str, stdin: str | None = None):
    return runner.invoke(app, [*args, "--db", db_url], input=stdin)


def refused(result, *words: str) -> None:
    """Exit status 2 and one line on stderr that names the problem."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def registry(engine, db_url, tmp_path):
    """Two members of Yangzhou, father (retired, 1000.00 in his account) and son (in service), a level-1
    hospital and a pharmacy; the pool holds 100000.00."""
    father = person("P1", date(1950, 6, 1), psn_type="12", balc="1000.00", serial=1)
    son = person("P2", date(1980, 1, 1), balc="0", serial=2)
    (tmp_path / "persons.csv").write_bytes(persons_csv([father, son]))
    (tmp_path / "institutions.csv").write_bytes(institutions_csv([institution("H32100000001", 1)]))
    (tmp_path / "relations.csv").write_bytes(csv_bytes(
        ["psn_no", "relative_certno", "relative_name", "relation"],
        [{"psn_no": "P2", "relative_certno": father["certno"], "relative_name": "父亲", "relation": "parent"}]))
    for kind in ("persons", "institutions", "relations"):
        result = run(db_url, "import", kind, str(tmp_path / f"{kind}.csv"))
        assert result.exit_code == 0, result.output
    assert run(db_url, "pool", "deposit", "321000", "100000.00", "--date", "2024-01-01").exit_code == 0
    return {"father": father, "son": son, "dir": tmp_path}


def visit_file(tmp_path, **fields) -> str:
    body = {"psn_no": "P1", "fixmedins_code": "H32100000001", "date": "2024-03-01", "med_type": "11",
            "acct_used_flag": "1", "covered": "800.00"} | fields
    path = tmp_path / "visit.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return str(path)


def test_settle_prints_setlinfo_and_reverse_undoes_it(registry, db_url, engine):
    result = run(db_url, "settle", visit_file(registry["dir"]), "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)["setlinfo"]
    # retiree, level 1: deductible 500.00, (800 - 500) x 80% = 240.00 from the pool; share 560.00 from the
    # account's 1000.00, leaving 440.00
    assert (info["act_pay_dedc"], info["hifp_pay"], info["fund_pay_sumamt"], info["psn_part_amt"]) == \
        ("500.00", "240.00", "240.00", "560.00")
    assert (info["acct_pay"], info["acct_mulaid_pay"], info["psn_cash_pay"], info["balc"]) == \
        ("560.00", "0.00", "0.00", "440.00")
    assert info["pool_prop_selfpay"] == "0.8000" and info["clr_type"] == "11"
    reversed_ = run(db_url, "reverse", info["setl_id"], "--institution", "H32100000001", "--key", "R1", "--json")
    assert reversed_.exit_code == 0, reversed_.output
    back = json.loads(reversed_.stdout)["setlinfo"]
    assert (back["hifp_pay"], back["acct_pay"], back["balc"]) == ("-240.00", "-560.00", "1000.00")
    before = snapshot(engine)
    again = run(db_url, "reverse", info["setl_id"], "--institution", "H32100000001", "--key", "R1", "--json")
    assert json.loads(again.stdout)["replayed"] is True
    assert json.loads(again.stdout)["setlinfo"]["setl_id"] == back["setl_id"]
    # the reversal's key cannot answer a settlement of the same person
    refused(run(db_url, "settle", visit_file(registry["dir"], key="R1")), "key", "already used")
    assert snapshot(engine) == before
    refused(run(db_url, "reverse", info["setl_id"], "--institution", "H32100000001"), "already reversed")
    refused(run(db_url, "reverse", "NOPE", "--institution", "H32100000001"), "setl_id", "NOPE")
    assert snapshot(engine) == before
    assert run(db_url, "audit").exit_code == 0


def test_pre_settle_stores_nothing(registry, db_url, engine):
    before = snapshot(engine)
    result = run(db_url, "settle", visit_file(registry["dir"]), "--pre", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["setlinfo"]["hifp_pay"] == "240.00"
    assert snapshot(engine) == before


@pytest.mark.parametrize(("fields", "words"), [
    ({"psn_no": "NOBODY"}, ("psn_no", "NOBODY")),
    ({"fixmedins_code": "H99999999999"}, ("fixmedins_code", "H99999999999")),
    ({"fixmedins_code": "X1"}, ("fixmedins_code",)),
    ({"covered": "-1.00"}, ("covered", "negative")),
    ({"covered": "1.234"}, ("covered", "1.234")),
    ({"med_type": "21"}, ("med_type", "21")),
    ({"date": "2024-02-30"}, ("date",)),
    ({"acct_used_flag": "2"}, ("acct_used_flag",)),
    ({"lines": [{"med_list_codg": "NOT-LISTED", "pric": "1", "cnt": "1"}], "covered": None},
     ("med_list_codg", "NOT-LISTED")),
    ({"surprise": 1}, ("surprise", "unknown")),
])
def test_settle_refuses_bad_input_and_changes_nothing(registry, db_url, engine, fields, words):
    body = {k: v for k, v in fields.items() if v is not None}
    path = visit_file(registry["dir"], **body)
    if fields.get("covered", 0) is None:
        data = json.loads(open(path).read())
        data.pop("covered")
        open(path, "w").write(json.dumps(data))
    before = snapshot(engine)
    refused(run(db_url, "settle", path), *words)
    assert snapshot(engine) == before


def test_settle_refuses_malformed_json(registry, db_url, engine):
    path = registry["dir"] / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    refused(run(db_url, "settle", str(path)), "malformed JSON")


def test_import_refuses_a_bad_row_naming_line_and_field(registry, db_url, engine):
    bad = person("P3", date(1990, 1, 1), serial=3)
    bad["brdy"] = "1991-01-01"
    path = registry["dir"] / "bad.csv"
    path.write_bytes(persons_csv([person("P4", date(1985, 1, 1), serial=4), bad]))
    before = snapshot(engine)
    result = run(db_url, "import", "persons", str(path))
    assert result.exit_code == 2
    assert "line 3" in result.stderr and "brdy" in result.stderr and "1991-01-01" in result.stderr
    assert snapshot(engine) == before


def test_family_premium_and_account(registry, db_url, engine):
    father, son = registry["father"], registry["son"]
    refused(run(db_url, "family", "authorize", "P1", "P1"), "owner")
    assert run(db_url, "family", "authorize", "P1", "P2").exit_code == 0
    refused(run(db_url, "family", "authorize", "P1", "P2"), "already authorized")
    before = snapshot(engine)
    refused(run(db_url, "premium", "P1", "--kind", "fitness", "--amount", "10.00"), "fitness", "Q13")
    refused(run(db_url, "premium", "P1", "--kind", "resident", "--amount", "10.00"), "relative")
    refused(run(db_url, "premium", "P1", "--kind", "supplementary", "--amount", "5000.00"), "holds 1000.00")
    refused(run(db_url, "premium", "P1", "--kind", "supplementary", "--amount", "ten"), "--amount")
    assert snapshot(engine) == before
    # the son may pay his father's resident premium (the relation is registered) but his account is empty
    paid = run(db_url, "premium", "P2", "--kind", "resident", "--amount", "10.00", "--relative", father["certno"])
    refused(paid, "holds 0.00")
    result = run(db_url, "premium", "P1", "--kind", "supplementary", "--amount", "100.00", "--date", "2024-02-01")
    assert result.exit_code == 0, result.output
    view = json.loads(run(db_url, "account", "P1", "--json").stdout)
    # 1000.00 opening - 100.00 premium
    assert view["balc"] == "900.00"
    assert view["movements"][0]["kind"] == "premium"
    assert view["authorized"][0]["psn_no"] == son["psn_no"]


def test_credit_twice_and_audit_catches_tampering(registry, db_url, engine):
    first = run(db_url, "credit", "--month", "2024-01")
    assert first.exit_code == 0, first.output
    again = run(db_url, "credit", "--month", "2024-01", "--region", "321000")
    assert "already credited" in again.stdout
    refused(run(db_url, "credit", "--month", "2024-13"), "--month", "2024-13")
    assert run(db_url, "audit").exit_code == 0
    with engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.psn_no == "P1").values(balance=accounts.c.balance + 1))
    result = run(db_url, "audit", "--json")
    assert result.exit_code == 1
    assert any("account P1" in d for d in json.loads(result.stdout)["differences"])


def test_commands_refuse_an_uninitialised_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    refused(run(url, "audit"), "gongji init")
    assert run(url, "init").exit_code == 0
    assert "already at" in run(url, "init").stdout


def test_init_on_postgres_url_without_server_fails_cleanly():
    refused(run("postgresql://postgres@127.0.0.1:1/none", "audit"), "cannot open")



def test_stays_status_interest_and_deposits_from_the_command_line(registry, db_url, engine):
    refused(run(db_url, "stay", "admit", "NOBODY", "--institution", "H32100000001", "--date", "2024-05-01"),
            "NOBODY")
    refused(run(db_url, "stay", "admit", "P1", "--institution", "H32100000001", "--date", "2024-13-01"), "--date")
    assert run(db_url, "stay", "admit", "P1", "--institution", "H32100000001", "--date", "2024-05-01").exit_code == 0
    refused(run(db_url, "stay", "admit", "P1", "--institution", "H32100000001", "--date", "2024-05-02"),
            "already has an open stay")
    during = json.loads(run(db_url, "settle", visit_file(registry["dir"], date="2024-05-03"), "--pre",
                            "--json").stdout)["setlinfo"]
    assert during["hifp_pay"] == "0.00" and "在院" in during["setl_proc_info"]
    refused(run(db_url, "stay", "discharge", "P1", "--date", "2024-04-30"), "before the admission")
    assert run(db_url, "stay", "discharge", "P1", "--date", "2024-05-10").exit_code == 0

    refused(run(db_url, "pool", "deposit", "321000", "0"), "amount")
    refused(run(db_url, "pool", "deposit", "32100", "5.00"), "admdvs", "32100")
    refused(run(db_url, "import", "people", str(registry["dir"] / "persons.csv")), "kind", "people")

    # 0.35 % of the father's 1000.00 at the end of 2024-12-31 = 3.50; the son's empty account earns nothing
    result = run(db_url, "interest", "--year", "2024", "--region", "321000")
    assert result.exit_code == 0, result.output
    assert "1 accounts credited 3.50 yuan" in result.stdout
    assert "already credited" in run(db_url, "interest", "--year", "2024", "--region", "321000").stdout

    refused(run(db_url, "person", "status", "P1", "--status", "4", "--reason", "death"), "heir")
    refused(run(db_url, "person", "status", "P1", "--status", "3"), "status", "'3'")
    died = run(db_url, "person", "status", "P1", "--status", "4", "--reason", "death", "--heir", "王芳",
               "--date", "2025-02-01")
    assert died.exit_code == 0, died.output
    assert "1003.50 yuan paid to 王芳" in died.stdout  # 1000.00 + 3.50 interest
    view = json.loads(run(db_url, "account", "P1", "--json").stdout)
    assert (view["balc"], view["closed_on"]) == ("0.00", "2025-02-01")
    assert run(db_url, "audit").exit_code == 0
