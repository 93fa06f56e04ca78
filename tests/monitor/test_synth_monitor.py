"""The labelled test data (gongji.monitor.synth): a background no rule fires on (though it uses the restricted
items), every rule's planted violations found and nothing else, the planted patterns found by the anomaly scores,
the labels pointing at real claims and lines, the same data for the same seed."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from gongji.monitor import batch, evaluate, rulebook, synth
from gongji.monitor.checkers import DRUG, MATERIAL, SERVICE
from gongji.monitor.knowledge import Restriction

NEVER_PAID = {"work_injury", "maternity", "not_paid"}
"""restrictions any use of the item breaks: the background never bills these items."""


@pytest.fixture(scope="module")
def labelled() -> synth.Labelled:
    return synth.generate(15_000, seed=7)


@pytest.fixture(scope="module")
def report(labelled) -> evaluate.Report:
    return evaluate.evaluate(labelled)


def test_the_background_and_the_patterns_break_no_rule():
    # no planted violations, no clean-up: whatever a rule finds is the generator's mistake
    clean = synth.generate(6_000, seed=11, rates=dict.fromkeys(synth.RULES, 0.0), check=False)
    assert clean.violations.is_empty()
    assert set(clean.patterns["pattern"]) == set(synth.PATTERNS)  # the patterns are in it
    assert batch.run(clean.frames()).is_empty()


def test_the_background_uses_the_restricted_items_it_may(labelled):
    # clean because every line is legitimate, not because the restricted items are left out: every item with a
    # restriction that some use can satisfy appears on claims no violation is planted on
    kb = labelled.context.knowledge
    usable = {r.code for r in kb.all if r.code.startswith("XM")} - {
        r.code for r in kb.all if r.rule in NEVER_PAID}
    planted = labelled.violations["claim"].unique().implode()
    background = labelled.lines.filter(~pl.col("key").is_in(planted))
    assert usable <= set(background["code"])
    assert len(usable) == 21  # 27 restricted items less the 6 only other insurances pay or nobody pays
    assert labelled.removed == 0


def test_every_rule_is_planted_and_found(labelled, report):
    by_rule = {r.rule: r for r in report.rules}
    assert set(by_rule) == set(rulebook.RULES) | {"all"}
    for name in rulebook.RULES:
        score = by_rule[name]
        # 0.002 x 15,000 background claims = 30 of each rule at least
        assert score.planted >= 30, name
        assert score.recall == 1.0, (name, report.false_negatives.filter(pl.col("rule") == name))
        assert score.precision >= evaluate.TARGET_PRECISION, (name, report.false_positives)
    assert report.rules[-1].false_positives == 0 and report.shortfalls() == []


def test_the_patterns_score_high(report):
    primary = [p for p in report.patterns if p.primary]
    assert {(p.pattern, p.view) for p in primary} == {
        ("phantom_pharmacy", "institution"), ("item_swapping", "institution"), ("year_end", "institution"),
        ("year_end", "member"), ("family_account", "account")}
    for p in primary:
        assert p.positives >= 1 and p.negatives > 40, p
        assert p.auc_robust >= 0.9 and p.auc_model >= 0.9, p


def test_the_labels_point_at_claims_and_lines(labelled):
    claims = labelled.claims
    assert claims["key"].is_unique().all() and claims["seq"].is_unique().all()
    line_labels = labelled.violations.filter(pl.col("line").is_not_null())
    joined = line_labels.join(labelled.lines, left_on=["claim", "line"], right_on=["key", "sn"], how="anti")
    assert joined.is_empty()
    assert labelled.violations.join(claims, left_on="claim", right_on="key", how="anti").is_empty()
    # every kind of entity a pattern names exists
    entities = labelled.patterns
    institutions = set(claims["fixmedins_code"])
    members = set(labelled.members["psn_no"])
    for row in entities.iter_rows(named=True):
        assert row["entity"] in (institutions if row["kind"] == synth.INSTITUTION else members), row


def test_the_exclusive_pairs_carry_their_companions(labelled):
    # every pair the shipped knowledge base forbids includes an item only work-injury or maternity insurance pays
    # (XM0019, XM0022) or nobody pays (XM0025): those findings are planted with the pair, on the same claims
    pairs = labelled.violations.filter(pl.col("rule") == "exclusive")["claim"].implode()
    on_them = labelled.violations.filter(pl.col("claim").is_in(pairs))
    companions = on_them.filter(pl.col("rule") != "exclusive")
    assert set(companions["rule"]) <= NEVER_PAID
    assert companions.filter(pl.col("rule").is_in(["work_injury", "maternity"])).height == pairs.list.len().item()


def test_the_same_seed_gives_the_same_data():
    a = synth.generate(1_500, seed=3)
    b = synth.generate(1_500, seed=3)
    assert_frame_equal(a.claims, b.claims)
    assert_frame_equal(a.lines, b.lines)
    assert_frame_equal(a.violations, b.violations)
    assert_frame_equal(a.patterns, b.patterns)
    assert not synth.generate(1_500, seed=4).claims.equals(a.claims)


def test_the_frames_have_the_batch_columns_and_a_year(labelled):
    assert labelled.claims.schema == pl.Schema(batch.CLAIM_COLUMNS)
    assert labelled.lines.schema == pl.Schema(batch.LINE_COLUMNS)
    assert labelled.claims["on"].min() >= date(2024, 1, 1) and labelled.claims["on"].max() <= date(2024, 12, 31)
    assert set(labelled.lines["kind"]) == {DRUG, SERVICE, MATERIAL}
    # the 321000 policy's thresholds (its monitoring block) and year-end months
    t = labelled.context.thresholds
    assert (t.window_days, t.visits["retired"], t.purchases["in_service"], t.max_supply_days) == (30, 17, 6, 84)
    assert labelled.year_end_months == 2


def test_rates_and_patterns_are_checked():
    with pytest.raises(ValueError, match="rates: 'sexx' is not one of"):
        synth.generate(100, rates={"sexx": 0.01})
    with pytest.raises(ValueError, match="patterns: year_end=2 is not a share"):
        synth.generate(100, patterns={"year_end": 2})
    few = synth.generate(1_000, seed=1, rates={"sex": 0.01}, patterns={"item_swapping": 0.0})
    # 0.01 x 1,000 claims = 10 sex violations; the other rules at the default 0.002 x 1,000 = 2, raised to 3
    counts = dict(few.violations.group_by("rule").len().iter_rows())
    assert counts["sex"] == 10 and counts["age_range"] == synth.MIN_PLANTS
    assert "item_swapping" not in set(few.patterns["pattern"])


def test_the_shipped_knowledge_base_loads_without_the_database(tmp_path):
    kb = synth.load_knowledge_csv()
    assert len(kb.all) == 55  # the file's 56 lines less the header
    assert kb.find("price", "XM0001", date(2024, 5, 1)) == Restriction(
        "XM0001", "price", "32.00", begndate=date(2024, 1, 1),
        source="illustrative (gongji demo set, not a national knowledge point): service-1's regulated unit price "
               "from 2024")
    bad = tmp_path / "bad.csv"
    bad.write_text("code,rule,limit,unit,other_code,begndate,enddate,source\n"
                   "XM0001,price,30.00,,,2023-01-01,,x\nXM0002,colour,1,,,2023-01-01,,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.csv: line 3, rule: 'colour' is not a rule type"):
        synth.load_knowledge_csv(bad)


def test_written_data_reads_back(tmp_path):
    small = synth.generate(800, seed=2)
    files = small.write(tmp_path / "out")
    assert {p.name for p in files.values()} >= {"claims.parquet", "lines.parquet", "violations.parquet",
                                                "patterns.parquet", "meta.json"}
    again = synth.read(tmp_path / "out")
    assert_frame_equal(again.claims, small.claims)
    assert_frame_equal(again.lines, small.lines)
    assert_frame_equal(again.violations, small.violations)
    assert again.meta["seed"] == 2 and again.year_end_months == 2
    assert_frame_equal(batch.run(again.frames()), batch.run(small.frames()))
