"""`gongji monitor rules` and `gongji monitor kb import|list` from the outside: what they print, and bad input
refused with exit status 2, one line naming the line, field and value, and nothing changed."""

from __future__ import annotations

import json
import re

import yaml

from gongji.cli import app
from gongji.monitor.coverage import COVERAGE_FILE
from tests.cli.test_ops import refused, run, runner
from tests.factories import csv_bytes, snapshot

COLUMNS = ["code", "rule", "limit", "unit", "other_code", "begndate", "enddate", "source"]


def kb_file(tmp_path, *rows: dict, name: str = "kb.csv") -> str:
    path = tmp_path / name
    path.write_bytes(csv_bytes(COLUMNS, [{"begndate": "2024-01-01", "source": "test"} | r for r in rows]))
    return str(path)


def test_rules_prints_the_table_and_the_counts():
    result = runner.invoke(app, ["monitor", "rules"])
    assert result.exit_code == 0, result.output
    # counted here from the file itself: each entry says checker, anomaly or not_covered
    entries = yaml.safe_load(COVERAGE_FILE.read_text(encoding="utf-8")).values()
    by = {kind: sum(kind in e for e in entries) for kind in ("checker", "anomaly", "not_covered")}
    assert by["checker"] + by["anomaly"] + by["not_covered"] == 78
    assert (f"78 rules: {by['checker']} covered by a checker, {by['anomaly']} feeding an anomaly score, "
            f"{by['not_covered']} not covered") in result.stdout
    assert "checkers beyond the national rule base: trace_twice, during_stay, institution_status, family_account" \
        in result.stdout
    assert re.search(r"GZ10000101001000 .*药品限工伤保险.* work_injury", result.stdout)  # rule 1, one table row
    assert "not covered: pregnancy status" in result.stdout  # rule 73


def test_rules_as_json():
    result = runner.invoke(app, ["monitor", "rules", "--json"])
    data = json.loads(result.stdout)
    assert len(data["rules"]) == data["counts"]["all"] == 78
    first = data["rules"][0]
    assert (first["seq"], first["code"], first["checkers"], first["class"]) == (1, "GZ10000101001000",
                                                                                ["work_injury"], "明确违规")


def test_kb_import_then_again_then_list(db_url, tmp_path):
    file = kb_file(tmp_path, {"code": "XM0003", "rule": "sex", "limit": "2"},
                   {"code": "XM0001", "rule": "price", "limit": "30"},
                   {"code": "XM0024", "rule": "second_line", "unit": "90", "other_code": "XM0000"})
    first = run(db_url, "monitor", "kb", "import", file)
    assert first.exit_code == 0, first.output
    assert first.stdout == "kb.csv: 3 restrictions: 3 added, 0 updated, 0 unchanged\n"
    again = run(db_url, "monitor", "kb", "import", file)
    assert again.stdout == "kb.csv: 3 restrictions: 0 added, 0 updated, 3 unchanged\n"
    listed = json.loads(run(db_url, "monitor", "kb", "list", "--json").stdout)
    # by rule, then code
    assert [(r["rule"], r["code"], r["limit"]) for r in listed] == [
        ("price", "XM0001", "30.00"), ("second_line", "XM0024", ""), ("sex", "XM0003", "2")]
    only = run(db_url, "monitor", "kb", "list", "--rule", "second_line")
    assert "XM0024" in only.stdout and "XM0003" not in only.stdout and only.stdout.endswith("\n1 restriction\n")
    by_code = json.loads(run(db_url, "monitor", "kb", "list", "--code", "XM0003", "--json").stdout)
    assert [r["rule"] for r in by_code] == ["sex"]
    assert run(db_url, "monitor", "kb", "list", "--code", "XM9999").stdout == "no restrictions on XM9999\n"


def test_kb_import_shipped(db_url):
    result = run(db_url, "monitor", "kb", "import", "--shipped")
    assert result.exit_code == 0, result.output
    rows = int(re.fullmatch(r"knowledge\.csv: (\d+) restrictions: \1 added, 0 updated, 0 unchanged\n",
                            result.stdout).group(1))
    assert rows >= 46  # at least two of each of the 23 rule types
    listed = json.loads(run(db_url, "monitor", "kb", "list", "--rule", "diagnosis_sex", "--json").stdout)
    assert {(r["code"], r["limit"]) for r in listed} >= {("O", "2"), ("N40", "1"), ("C61", "1"), ("C53", "2")}


def test_a_bad_file_exits_2_naming_the_line_and_field_and_changes_nothing(db_url, tmp_path, engine):
    file = kb_file(tmp_path, {"code": "XM0003", "rule": "sex", "limit": "2"},
                   {"code": "XM0007", "rule": "period_frequency", "limit": "4"}, name="bad.csv")
    before = snapshot(engine)
    refused(run(db_url, "monitor", "kb", "import", file),
            "bad.csv: line 3, unit: period_frequency needs its window in days", "(value: empty)")
    assert snapshot(engine) == before


def test_kb_bad_arguments_exit_2(db_url, tmp_path):
    refused(run(db_url, "monitor", "kb", "import"), "FILE or --shipped")
    refused(run(db_url, "monitor", "kb", "import", kb_file(tmp_path), "--shipped"), "FILE or --shipped")
    refused(run(db_url, "monitor", "kb", "list", "--rule", "gender"), "--rule: 'gender' is not a rule type")
    refused(run(db_url, "monitor", "kb", "import", str(tmp_path / "missing.csv")), "cannot read")
