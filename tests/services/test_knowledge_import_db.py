"""The knowledge base's import against a real database, on SQLite and PostgreSQL: a file is taken whole or not at
all; the same file again changes nothing; a bad row refuses the file naming line, field and value, and every
table is as it was."""

from __future__ import annotations

from datetime import date

import pytest

from gongji.errors import InputError
from gongji.monitor.kb_store import load_knowledge, stored_restrictions
from gongji.monitor.knowledge import RULE_TYPES, Restriction
from gongji.services.knowledge_import import LIMITS, import_csv, import_shipped
from tests.factories import csv_bytes, snapshot

COLUMNS = ["code", "rule", "limit", "unit", "other_code", "begndate", "enddate", "source"]


def row(code: str, rule: str, limit: str = "", begndate: str = "2024-01-01", **extra) -> dict:
    return {"code": code, "rule": rule, "limit": limit, "begndate": begndate, "source": "test"} | extra


def kb_csv(*rows: dict, bom: bool = False) -> bytes:
    return csv_bytes(COLUMNS, list(rows), bom)


GOOD = kb_csv(
    row("XM0003", "sex", "2"),
    row("XM0001", "price", "30", enddate="2024-06-30"),
    row("XM0001", "price", "32.5", begndate="2024-07-01"),
    row("XM0007", "period_frequency", "04", unit="30"),
    row("XM0019", "exclusive", other_code="XM0020"),
    row("XM0024", "second_line", unit="90天", other_code="XM0000"),
    row("XM0009", "indication", "E10, E11"),
    row("P0", "diagnosis_age", "0-0"),
    row("N95", "diagnosis_age", "35-"),
    row("XM0005", "max_quantity", "10", unit="个"),
)


def test_a_good_file_is_stored_as_restrictions_and_loads_as_knowledge(engine):
    result = import_csv(engine, GOOD)
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (10, 10, 0, 0)
    with engine.connect() as conn:
        knowledge = load_knowledge(conn)
    # written the one way: yuan with two decimals, integers without leading zeros, days as a number, lists
    # without spaces, an open age range closed at 150
    assert knowledge.find("price", "XM0001", date(2024, 6, 30)).limit == "30.00"
    assert knowledge.find("price", "XM0001", date(2024, 7, 1)).limit == "32.50"
    assert knowledge.find("price", "XM0001", date(2023, 12, 31)) is None  # before the first one begins
    assert knowledge.find("period_frequency", "XM0007", date(2024, 3, 1))[2:4] == ("4", "30")
    assert knowledge.find("second_line", "XM0024", date(2024, 3, 1)).unit == "90"
    assert knowledge.find("indication", "XM0009", date(2024, 3, 1)).limit_set() == {"E10", "E11"}
    assert knowledge.by_prefix("diagnosis_age", "N95.100", date(2024, 3, 1)).limit_range() == (35, 150)
    assert knowledge.find("exclusive", "XM0019", date(2024, 3, 1)) == Restriction(
        "XM0019", "exclusive", "", "", "XM0020", date(2024, 1, 1), None, "test")
    assert knowledge.find("max_quantity", "XM0005", date(2024, 3, 1)).unit == "个"


@pytest.mark.parametrize("bom", [False, True])
def test_the_same_file_again_changes_nothing(engine, bom):
    import_csv(engine, kb_csv(row("XM0003", "sex", "2"), bom=bom))
    before = snapshot(engine)
    result = import_csv(engine, kb_csv(row("XM0003", "sex", "2"), bom=bom))
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 1)
    assert snapshot(engine) == before  # recorded_at included


def test_a_changed_row_replaces_its_restriction_and_a_price_can_change_midway(engine):
    import_csv(engine, kb_csv(row("XM0001", "price", "30.00")))
    # the open price is closed at the end of June and a new one starts in July, in one file
    result = import_csv(engine, kb_csv(row("XM0001", "price", "30.00", enddate="2024-06-30"),
                                       row("XM0001", "price", "33.00", begndate="2024-07-01")))
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 0)
    with engine.connect() as conn:
        stored = [(r.limit, r.begndate, r.enddate) for r in stored_restrictions(conn, "price", "XM0001")]
    assert stored == [("30.00", date(2024, 1, 1), date(2024, 6, 30)), ("33.00", date(2024, 7, 1), None)]


def test_a_restriction_overlapping_a_stored_one_is_refused(engine):
    import_csv(engine, kb_csv(row("XM0001", "price", "30.00", enddate="2024-12-31")))
    before = snapshot(engine)
    with pytest.raises(InputError) as refused:
        import_csv(engine, kb_csv(row("XM0003", "sex", "2"),
                                  row("XM0001", "price", "31.00", begndate="2024-12-31")))  # the stored one's last day
    assert str(refused.value) == ("line 3, begndate: price XM0001 2024-12-31..open overlaps the stored restriction "
                                  "2024-01-01..2024-12-31 (value: '2024-12-31')")
    assert snapshot(engine) == before  # line 2 was good, yet it is not stored either
    # the day after is no overlap
    assert import_csv(engine, kb_csv(row("XM0001", "price", "31.00", begndate="2025-01-01"))).inserted == 1


def test_one_restriction_of_a_rule_does_not_block_another_rule_on_the_same_code(engine):
    result = import_csv(engine, kb_csv(row("XM0001", "price", "30.00"), row("XM0001", "daily_frequency", "1")))
    assert result.inserted == 2


def test_an_item_may_be_exclusive_with_several_others_at_once_but_each_pair_once(engine):
    result = import_csv(engine, kb_csv(row("XM0022", "exclusive", other_code="XM0025"),
                                       row("XM0022", "exclusive", other_code="XM0028")))
    assert result.inserted == 2
    with engine.connect() as conn:
        found = load_knowledge(conn).find_all("exclusive", "XM0022", date(2024, 3, 1))
    assert sorted(r.other_code for r in found) == ["XM0025", "XM0028"]
    with pytest.raises(InputError, match=r"^line 2, begndate: exclusive XM0022/XM0028 2024-06-01\.\.open overlaps "
                       r"the stored restriction 2024-01-01\.\.open \(value: '2024-06-01'\)$"):
        import_csv(engine, kb_csv(row("XM0022", "exclusive", other_code="XM0028", begndate="2024-06-01")))


def test_drug_count_is_about_the_whole_claim(engine):
    import_csv(engine, kb_csv(row("*", "drug_count", "5")))
    with engine.connect() as conn:
        assert load_knowledge(conn).find("drug_count", "*", date(2024, 3, 1)).limit_int() == 5


REFUSED = {
    "unknown-rule": (row("A1", "sex_limit", "1"), "line 3, rule: not a rule type of the knowledge base", "'sex_limit'"),
    "sex-3": (row("A1", "sex", "3"), "line 3, limit: must be 1 (male) or 2 (female)", "'3'"),
    "age-reversed": (row("A1", "age_range", "60-18"), "line 3, limit: must be ages MIN-MAX", "'60-18'"),
    "age-no-dash": (row("A1", "age_range", "18"), "line 3, limit: must be ages MIN-MAX", "'18'"),
    "age-above-150": (row("A1", "diagnosis_age", "0-151"), "line 3, limit: must be ages MIN-MAX", "'0-151'"),
    "level-4": (row("A1", "level", "4"), "line 3, limit: must be from 1 to 3 for level", "'4'"),
    "days-decimal": (row("A1", "max_days", "7.5"), "line 3, limit: must be a whole number for max_days", "'7.5'"),
    "days-missing": (row("A1", "child"), "line 3, limit: child needs a limit", "empty"),
    "price-three-decimals": (row("A1", "price", "1.234"), "line 3, limit: must be yuan with at most two decimals",
                             "'1.234'"),
    "price-zero": (row("A1", "price", "0"), "line 3, limit: must be more than 0.00 yuan", "'0'"),
    "amount-words": (row("A1", "period_amount", "a lot", unit="30"), "line 3, limit: must be yuan", "'a lot'"),
    "limit-on-not-paid": (row("A1", "not_paid", "1"), "line 3, limit: not_paid takes no limit", "'1'"),
    "med-type-list": (row("A1", "med_type", "11;14"), "line 3, limit: must be a comma-separated list of med_type",
                      "'11;14'"),
    "indication-lowercase": (row("A1", "indication", "e10"), "line 3, limit: must be a comma-separated list of "
                             "diagnosis code prefixes", "'e10'"),
    "window-missing": (row("A1", "period_frequency", "4"), "line 3, unit: period_frequency needs its window in days",
                       "empty"),
    "window-weeks": (row("A1", "course", "28", unit="2w"), "line 3, unit: course needs its window in days", "'2w'"),
    "unit-on-sex": (row("A1", "sex", "1", unit="岁"), "line 3, unit: sex takes no unit", "'岁'"),
    "pair-missing": (row("A1", "exclusive"), "line 3, other_code: exclusive needs the other item's code", "empty"),
    "pair-itself": (row("A1", "exclusive", other_code="A1"), "line 3, other_code: is the restriction's own code",
                    "'A1'"),
    "second-line-no-window": (row("A1", "second_line", other_code="A0"), "line 3, unit: second_line needs its "
                              "window in days", "empty"),
    "other-code-on-sex": (row("A1", "sex", "1", other_code="A2"), "line 3, other_code: sex is not about a second",
                          "'A2'"),
    "diagnosis-as-item": (row("XM0001", "diagnosis_sex", "1"), "line 3, code: diagnosis_sex is keyed by a diagnosis "
                          "code prefix", "'XM0001'"),
    "item-code-space": (row("A 1", "sex", "1"), "line 3, code: must be a catalogue code", "'A 1'"),
    "end-before-begin": (row("A1", "sex", "1", enddate="2023-12-31"), "line 3, enddate: is before begndate "
                         "2024-01-01", "'2023-12-31'"),
    "bad-date": (row("A1", "sex", "1", begndate="2024-02-30"), "line 3, begndate:", "'2024-02-30'"),
    "no-source": (row("A1", "sex", "1", source=""), "line 3, source: missing", ""),
    "window-over-a-year": (row("A1", "period_amount", "100", unit="367"), "line 3, unit: must be from 1 to 366 "
                           "days", "'367'"),  # the history rules look back at most 366 days
    "drug-count-on-an-item": (row("XM0000", "drug_count", "5"), "line 3, code: drug_count is about the whole "
                              "claim: its code is *", "'XM0000'"),
    "overlap-in-file": (row("XM0003", "sex", "2", begndate="2024-05-01"),
                        "line 3, begndate: sex XM0003 2024-05-01..open overlaps line 2's 2024-01-01..open",
                        "'2024-05-01'"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_bad_row_refuses_the_file_naming_line_field_and_value(engine, case):
    bad, reason, value = REFUSED[case]
    before = snapshot(engine)
    with pytest.raises(InputError) as refused:
        import_csv(engine, kb_csv(row("XM0003", "sex", "2"), bad))  # line 2 is good
    message = str(refused.value)
    assert message.startswith(reason), message
    assert f"(value: {value})" in message if value else message.endswith("missing")
    assert snapshot(engine) == before


@pytest.mark.parametrize(("data", "expected"), [
    (b"code,rule,limit,begndate\nA1,sex,1,2024-01-01\n", "line 1: missing column source"),
    (b"code,rule,limit,begndate,source,colour\n", "line 1: unknown column 'colour'"),
    (b"", "the file is empty"),
    (b"code,rule,limit,begndate,source\nA1,sex,1,2024-01-01,s,extra\n", "line 2: more cells than columns"),
    ("code,rule,limit,begndate,source\nA1,sex,1,2024-01-01,男科\n".encode("gbk"), "line 2: the file is not UTF-8"),
])
def test_a_file_of_the_wrong_shape_is_refused(engine, data, expected):
    with pytest.raises(InputError, match=expected):
        import_csv(engine, data)
    assert snapshot(engine)["knowledge"] == []


def test_the_shipped_set_has_every_rule_type_and_imports_once(engine):
    result = import_shipped(engine)
    assert result.inserted == result.rows and import_shipped(engine).unchanged == result.rows
    with engine.connect() as conn:
        stored = stored_restrictions(conn)
    assert {r.rule for r in stored} == set(RULE_TYPES)  # a couple of each rule type, for the demo
    assert all("illustrative" in r.source for r in stored)
    with engine.connect() as conn:
        knowledge = load_knowledge(conn)
    # ICD-10 chapter XV (O, pregnancy) fits women only; N40 (prostate) men only
    assert knowledge.by_prefix("diagnosis_sex", "O80.000", date(2024, 3, 1)).limit == "2"
    assert knowledge.by_prefix("diagnosis_sex", "N40.x00", date(2024, 3, 1)).limit == "1"


def test_every_rule_type_has_its_limit_form():
    assert set(LIMITS) == set(RULE_TYPES)
