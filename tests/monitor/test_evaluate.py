"""The evaluation's arithmetic on a hand-made labelled set (precision, recall, ROC AUC worked by hand), the
account view, the targets, and `gongji monitor evaluate|synth` printing their tables."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest
from typer.testing import CliRunner

from gongji.cli import app
from gongji.monitor import anomaly, evaluate, synth
from gongji.monitor.batch import CLAIM_COLUMNS, LINE_COLUMNS
from gongji.monitor.checkers import Context
from gongji.monitor.knowledge import Knowledge, Restriction

ON = date(2024, 6, 1)


def _claim(key: str, seq: int, sex: str, designated: bool = True, psn_no: str | None = None,
           payer: str | None = None) -> dict:
    return {"key": key, "seq": seq, "psn_no": psn_no or f"M{seq}", "sex": sex, "birth_date": date(1980, 1, 1),
            "member_type": "in_service", "fixmedins_code": "H1", "setting": "clinic", "level": 1,
            "designated": designated, "med_type": "11", "on": ON, "diagnoses": [], "fund_paid": 100, "in_stay": False,
            "payer_psn_no": payer, "rxno": None, "prescriber_code": None, "total": 200}


def _line(key: str, sn: int, code: str = "A") -> dict:
    return {"key": key, "sn": sn, "code": code, "quantity": 1, "price": 100, "amount": 100, "days": None,
            "trace_code": None, "kind": "drug"}


def _labelled(violations: list[tuple], patterns: list[tuple] = ()) -> synth.Labelled:
    """Four claims on 1 June 2024; item A is for women only (sex 2).
    C1: a man, one line of A -> sex finds line 1.
    C2: a woman, one line of A -> nothing.
    C3: a man, two lines of A -> sex finds lines 1 and 2.
    C4: a woman at an institution not designated that day -> institution_status finds the claim."""
    claims = pl.DataFrame([_claim("C1", 1, "1"), _claim("C2", 2, "2"), _claim("C3", 3, "1"),
                           _claim("C4", 4, "2", designated=False)], schema=CLAIM_COLUMNS)
    lines = pl.DataFrame([_line("C1", 1), _line("C2", 1), _line("C3", 1), _line("C3", 2), _line("C4", 1, "B")],
                         schema=LINE_COLUMNS)
    context = Context(Knowledge([Restriction("A", "sex", "2", begndate=date(2023, 1, 1))]), {"A": "drug"})
    members = claims.select(list(synth.MEMBER_COLUMNS))
    return synth.Labelled(claims, lines, members, context, 2,
                          pl.DataFrame(violations, schema=synth.VIOLATION_COLUMNS, orient="row"),
                          pl.DataFrame(list(patterns), schema=synth.PATTERN_COLUMNS, orient="row"))


def test_precision_and_recall_by_hand():
    report = evaluate.evaluate(_labelled([
        ("sex", "C1", 1),                 # found: true positive
        ("sex", "C2", 1),                 # not found (she may have A): false negative
        ("sex", "C3", 1),                 # found: true positive; C3 line 2 is found but not planted: false positive
        ("institution_status", "C4", None),  # a claim finding, line null on both sides: true positive
        ("during_stay", "C4", None),      # nothing finds it: false negative, and nothing found at all
    ]))
    rows = {r.rule: r for r in report.rules}
    # sex: found 3 (C1/1, C3/1, C3/2), planted 3 (C1/1, C2/1, C3/1), both 2 -> precision 2/3, recall 2/3
    assert rows["sex"] == evaluate.RuleScore("sex", 3, 3, 2, 1, 1, 2 / 3, 2 / 3)
    assert rows["institution_status"] == evaluate.RuleScore("institution_status", 1, 1, 1, 0, 0, 1.0, 1.0)
    # found nothing: precision undefined, recall 0 / 1
    assert rows["during_stay"] == evaluate.RuleScore("during_stay", 1, 0, 0, 0, 1, None, 0.0)
    # all: planted 5, found 4, true 3 -> precision 3/4, recall 3/5
    assert report.rules[-1] == evaluate.RuleScore("all", 5, 4, 3, 1, 2, 3 / 4, 3 / 5)
    assert report.false_positives.select("rule", "claim", "line").rows() == [("sex", "C3", 2)]
    assert report.false_negatives.rows() == [("during_stay", "C4", None), ("sex", "C2", 1)]
    assert report.shortfalls() == ["during_stay: recall 0.0000 < 1.0", "during_stay: nothing found",
                                   "sex: recall 0.6667 < 1.0", "sex: precision 0.6667 < 0.99",
                                   "all: recall 0.6000 < 1.0", "all: precision 0.7500 < 0.99"]


def test_a_line_label_does_not_match_a_claim_finding():
    # institution_status finds C4 with no line: a label on C4's line 1 is another triple
    report = evaluate.evaluate(_labelled([("institution_status", "C4", 1)]))
    row = next(r for r in report.rules if r.rule == "institution_status")
    assert (row.true_positives, row.false_positives, row.false_negatives) == (0, 1, 1)


def test_roc_auc_by_hand():
    scores = pl.DataFrame({"entity": ["a", "b", "c", "d", "e"], "robust_score": [4.0, 3.0, 2.0, 1.0, 10.0]})
    # positives a, c against b, d (e belongs to another pattern: left out): pairs a>b, a>d, c<b, c>d -> 3 of 4
    assert evaluate.auc(scores, {"a", "c"}, {"e", "a", "c"}, "robust_score") == (2, 2, 0.75)
    # with e among the negatives: a and c both lose to it -> 3 of 6
    assert evaluate.auc(scores, {"a", "c"}, set(), "robust_score") == (2, 3, 0.5)
    # f has no claims in the view: it scores below everyone; against b, c, d a wins 3, f loses 3 -> 3 of 6
    assert evaluate.auc(scores, {"a", "f"}, {"e"}, "robust_score") == (2, 3, 0.5)
    assert evaluate.auc(scores, set(), set(), "robust_score") == (0, 5, None)


def test_the_account_view_gives_paid_claims_to_the_account_holder():
    claims = pl.DataFrame([_claim("C1", 1, "1", psn_no="M1"), _claim("C2", 2, "2", psn_no="M2", payer="M9"),
                           _claim("C3", 3, "2", psn_no="M3", payer="M3")], schema=CLAIM_COLUMNS)
    members = pl.DataFrame([("M9", "1", date(1950, 3, 3), "retired")], schema=synth.MEMBER_COLUMNS, orient="row")
    seen = anomaly.account_claims(claims, members)
    assert seen.select("key", "psn_no", "sex", "birth_date", "member_type").rows() == [
        ("C1", "M1", "1", date(1980, 1, 1), "in_service"),
        ("C2", "M9", "1", date(1950, 3, 3), "retired"),   # paid from M9's account: M9's, with M9's age and type
        ("C3", "M3", "2", date(1980, 1, 1), "in_service")]  # paid from her own account
    assert seen.columns == claims.columns


def test_patterns_on_hand_made_scores():
    labelled = _labelled([], [("dear", synth.INSTITUTION, "H2"), ("many", synth.ACCOUNT, "M2")])
    institutions = pl.DataFrame({"entity": ["H1", "H2", "H3"], "robust_score": [1.0, 5.0, 2.0],
                                 "model_score": [0.3, 0.05, 0.1]})
    members = pl.DataFrame({"entity": ["M1", "M2", "M3"], "robust_score": [3.0, 2.0, 1.0],
                            "model_score": [0.1, 0.2, 0.3]})
    accounts = pl.DataFrame({"entity": ["M1", "M2", "M3"], "robust_score": [1.0, 9.0, 2.0],
                             "model_score": [0.1, 0.9, 0.2]})
    found = evaluate.pattern_scores(labelled, {synth.INSTITUTION: institutions, synth.MEMBER: members,
                                               synth.ACCOUNT: accounts})
    assert found == [
        # H2 above H1 and H3 by the robust score (2 of 2), below both by the model score (0 of 2)
        evaluate.PatternScore("dear", "institution", 1, 2, 1.0, 0.0, True),
        # M2 on the accounts' scores above both; on the members' own scores above M3 only (1 of 2 each)
        evaluate.PatternScore("many", "account", 1, 2, 1.0, 1.0, True),
        evaluate.PatternScore("many", "member", 1, 2, 0.5, 0.5, False)]


runner = CliRunner()


def test_monitor_evaluate_prints_both_tables():
    result = runner.invoke(app, ["monitor", "evaluate", "--claims", "1500", "--seed", "5"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "rules on planted violations" in out and "anomaly scores on planted fraud patterns (ROC AUC)" in out
    for rule in ("sex", "family_account", "overlapping_supply", "drug_count", "all"):
        assert f"│ {rule} " in out
    for pattern in ("phantom_pharmacy", "item_swapping", "year_end", "family_account"):
        assert f"│ {pattern} " in out
    assert "100.00 %" in out and "batch run over every rule:" in out
    assert "targets met" in out or "targets missed" in out


def test_monitor_evaluate_json_and_synth_folder(tmp_path):
    written = runner.invoke(app, ["monitor", "synth", "--claims", "1200", "--seed", "2", "--out",
                                  str(tmp_path / "data")])
    assert written.exit_code == 0, written.output
    assert "planted findings of 31 rules" in written.stdout
    assert (tmp_path / "data" / "violations.parquet").exists()
    result = runner.invoke(app, ["monitor", "evaluate", "--data", str(tmp_path / "data"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    total = data["rules"][-1]
    planted = pl.read_parquet(tmp_path / "data" / "violations.parquet").height
    assert total["rule"] == "all" and total["planted"] == planted
    assert total["recall"] == 1.0 and data["meta"]["seed"] == 2
    assert {p["pattern"] for p in data["patterns"]} == set(synth.PATTERNS)


@pytest.mark.parametrize("args, message", [
    (["monitor", "evaluate", "--claims", "0"], "--claims"),
    (["monitor", "evaluate", "--data", "/nonexistent/folder"], "--data"),
])
def test_monitor_evaluate_refuses_bad_input(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
