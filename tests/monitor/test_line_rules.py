"""The line and claim rules: each boundary by hand (online, and the batch on the same claims), then the batch equal
to the online checks on a few hundred random claims."""

import random
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from gongji.money import MoneyError
from gongji.monitor import line_rules
from gongji.monitor.batch import findings_frame, frames_of, run
from gongji.monitor.checkers import RULES, Context, Finding
from gongji.monitor.claims import Claim, Line
from gongji.monitor.knowledge import Knowledge, Restriction

ON = date(2024, 6, 15)
KINDS = {"D1": "drug", "D2": "drug", "D3": "drug", "D4": "drug", "D5": "drug", "D6": "drug",
         "S1": "service", "S2": "service", "M1": "material", "M2": "material"}
SORT = ["claim", "rule", "line", "evidence"]


def context(*restrictions: Restriction, kinds=KINDS) -> Context:
    return Context(Knowledge(restrictions), kinds)


def line(sn: int, code: str, quantity="1", price=1000, days=None) -> Line:
    q = Decimal(quantity)
    return Line(sn, code, q, price, int(q * price), days)


def claim(*lines: Line, key="c1", **fields) -> Claim:
    values = {"seq": 1, "psn_no": "P1", "sex": "1", "birth_date": date(1980, 1, 1), "member_type": "in_service",
              "fixmedins_code": "H1", "setting": "clinic", "level": 2, "designated": True, "med_type": "11",
              "on": ON, "lines": lines, "diagnoses": (), "fund_paid": 5000} | fields
    return Claim(key=key, **values)


def found(rule: str, ctx: Context, *claims: Claim) -> list[Finding]:
    """The online findings of `rule` on `claims`, after checking that the batch finds exactly the same."""
    online = [f for c in claims for f in RULES[rule].check(c, (), ctx)]
    batch = run(frames_of(claims, ctx), rules=[rule])
    assert_frame_equal(batch.sort(SORT), findings_frame(online).sort(SORT))
    return online


def lf(rule, code, sn, amount, evidence, key="c1") -> Finding:
    return Finding(rule, code, RULES[rule].cls, key, sn, amount, evidence)


# --- age ------------------------------------------------------------------------------------------------------


def test_newborn_at_most_limit_days():
    ctx = context(Restriction("D1", "newborn", "28"))
    # born 18 May, claim 15 June: 13 days of May left + 15 = 28 days old, still a newborn
    assert found("newborn", ctx, claim(line(1, "D1"), birth_date=date(2024, 5, 18))) == []
    # one day older: 29 > 28
    assert found("newborn", ctx, claim(line(1, "D1"), birth_date=date(2024, 5, 17))) == [
        lf("newborn", "GZ10000101006000", 1, 1000, "code=D1; limit=28; age_days=29")]


def test_newborn_code_by_item_kind():
    ctx = context(Restriction("S1", "newborn", "28"), Restriction("M1", "newborn", "28"))
    got = found("newborn", ctx, claim(line(1, "S1"), line(2, "M1"), birth_date=date(2024, 1, 1)))
    # 1 Jan to 15 June 2024 (a leap year): 31 + 29 + 31 + 30 + 31 + 14 = 166 days
    assert [(f.code, f.evidence) for f in got] == [("GZ10000102005000", "code=S1; limit=28; age_days=166"),
                                                  ("GZ10000103001000", "code=M1; limit=28; age_days=166")]


def test_child_under_limit_years():
    ctx = context(Restriction("D1", "child", "18"))
    # born 16 June 2006: still 17 on 15 June 2024, a child
    assert found("child", ctx, claim(line(1, "D1"), birth_date=date(2006, 6, 16))) == []
    # born 15 June 2006: 18 on the claim's day, no longer a child
    assert found("child", ctx, claim(line(1, "D1"), birth_date=date(2006, 6, 15))) == [
        lf("child", "GZ10000101007000", 1, 1000, "code=D1; limit=18; age=18")]


def test_child_forbidden_under_limit_is_suspicious():
    ctx = context(Restriction("D1", "child_forbidden", "12"))
    assert found("child_forbidden", ctx, claim(line(1, "D1"), birth_date=date(2012, 6, 15))) == []  # 12 today
    # 11 (12 tomorrow): under the limit, for review
    assert found("child_forbidden", ctx, claim(line(1, "D1"), birth_date=date(2012, 6, 16))) == [
        Finding("child_forbidden", "GZ10000301003000", "可疑", "c1", 1, 1000, "code=D1; limit=12; age=11")]


def test_elderly_from_limit_born_on_29_february():
    ctx = context(Restriction("D1", "elderly", "65"))
    born = date(1960, 2, 29)
    # in 2025 there is no 29 February: still 64 on 28 February, 65 on 1 March
    assert found("elderly", ctx, claim(line(1, "D1"), birth_date=born, on=date(2025, 2, 28))) == []
    assert found("elderly", ctx, claim(line(1, "D1"), birth_date=born, on=date(2025, 3, 1))) == [
        Finding("elderly", "GZ10000301009000", "可疑", "c1", 1, 1000, "code=D1; limit=65; age=65")]


# --- where and how --------------------------------------------------------------------------------------------


def test_level_equal_passes_below_hits():
    ctx = context(Restriction("D1", "level", "2"), Restriction("S1", "level", "2"))
    assert found("level", ctx, claim(line(1, "D1"), line(2, "S1"), level=2)) == []  # level 2 is "2 or higher"
    assert found("level", ctx, claim(line(1, "D1"), line(2, "S1"), level=1)) == [
        lf("level", "GZ10000101012000", 1, 1000, "code=D1; limit=2; level=1"),
        lf("level", "GZ10000102011000", 2, 1000, "code=S1; limit=2; level=1")]


def test_med_type_outside_the_set():
    ctx = context(Restriction("D1", "med_type", "11, 14"), Restriction("S1", "med_type", "14"))
    # 14 is in both sets (the spaces around the comma do not count)
    assert found("med_type", ctx, claim(line(1, "D1"), line(2, "S1"), med_type="14")) == []
    # 11 is allowed for D1 only
    assert found("med_type", ctx, claim(line(1, "D1"), line(2, "S1"), med_type="11")) == [
        lf("med_type", "GZ10000102009000", 2, 1000, "code=S1; limit=14; med_type=11")]
    # 41 fits neither; the drug's rule has no national code, its 2025 name stands in
    assert [f.code for f in found("med_type", ctx, claim(line(1, "D1"), line(2, "S1"), med_type="41"))] == [
        "药品限就医方式", "GZ10000102009000"]


def test_work_injury_maternity_not_paid_only_while_in_force():
    ctx = context(Restriction("D1", "work_injury", begndate=date(2024, 6, 16)),  # starts tomorrow
                  Restriction("D2", "work_injury", enddate=date(2024, 6, 14)),  # ended yesterday
                  Restriction("D3", "work_injury", begndate=date(2024, 6, 15), enddate=date(2024, 6, 15)),
                  Restriction("D4", "maternity", begndate=date(2024, 1, 1)),
                  Restriction("S1", "maternity"),
                  Restriction("D5", "not_paid", begndate=date(2020, 1, 1), enddate=date(2024, 6, 15)),
                  Restriction("D6", "not_paid", begndate=date(2024, 6, 16)))
    c = claim(line(1, "D1"), line(2, "D2"), line(3, "D3"), line(4, "D4"), line(5, "S1"), line(6, "D5"),
              line(7, "D6"))
    # D3's restriction covers exactly the claim's day; D1's and D2's do not
    assert found("work_injury", ctx, c) == [lf("work_injury", "GZ10000101001000", 3, 1000, "code=D3; since=2024-06-15")]
    assert found("maternity", ctx, c) == [
        lf("maternity", "GZ10000101002000", 4, 1000, "code=D4; since=2024-01-01"),
        lf("maternity", "GZ10000102004000", 5, 1000, "code=S1; since=1900-01-01")]  # no begndate: always
    # D5 not paid up to and including today; D6 only from tomorrow
    assert found("not_paid", ctx, c) == [lf("not_paid", "GZ10000101003000", 6, 1000, "code=D5; since=2020-01-01")]


# --- how much -------------------------------------------------------------------------------------------------


def test_price_in_fen_equal_passes_one_fen_above_hits():
    ctx = context(Restriction("S1", "price", "12.34"), Restriction("S2", "price", "8.5"))
    assert found("price", ctx, claim(line(1, "S1", price=1234), line(2, "S2", price=850))) == []  # equal
    assert found("price", ctx, claim(line(1, "S1", price=1235, quantity="2"), line(2, "S2", price=851))) == [
        lf("price", "GZ10000102001000", 1, 2470, "code=S1; limit=12.34; price=12.35"),  # amount 2 x 12.35
        lf("price", "GZ10000102001000", 2, 851, "code=S2; limit=8.5; price=8.51")]


def test_price_limit_with_three_decimals_is_refused_by_both():
    ctx = context(Restriction("S1", "price", "12.345"))
    c = claim(line(1, "S1", price=1235))
    with pytest.raises(MoneyError, match="12.345"):
        RULES["price"].check(c, (), ctx)
    with pytest.raises(MoneyError, match="12.345"):
        run(frames_of([c], ctx), rules=["price"])


def test_price_restriction_changes_on_its_dates():
    ctx = context(Restriction("S1", "price", "10", enddate=date(2024, 6, 30)),
                  Restriction("S1", "price", "12", begndate=date(2024, 7, 1)))
    c = line(1, "S1", price=1100)
    # 11.00 yuan is above the 10 yuan of June, within the 12 yuan of July
    assert [f.evidence for f in found("price", ctx, claim(c, on=date(2024, 6, 30)))] == [
        "code=S1; limit=10; price=11.00"]
    assert found("price", ctx, claim(c, on=date(2024, 7, 1))) == []


def test_max_days_the_84_day_cap_for_any_drug():
    ctx = context()
    assert found("max_days", ctx, claim(line(1, "D1", days=84), line(2, "D2"))) == []  # 84 is allowed; no days
    assert found("max_days", ctx, claim(line(1, "D1", days=85))) == [
        lf("max_days", "GZ10000101009000", 1, 1000, "code=D1; limit=84; days=85; by=max_supply_days")]
    # a service's days are not a drug's supply: no cap without a restriction
    assert found("max_days", ctx, claim(line(1, "S1", days=100))) == []


def test_max_days_the_restriction_and_the_lower_limit():
    ctx = context(Restriction("D1", "max_days", "30"), Restriction("D2", "max_days", "90"),
                  Restriction("S1", "max_days", "10"), Restriction("D3", "max_days", "84"))
    c = claim(line(1, "D1", days=30), line(2, "D1", days=31), line(3, "D2", days=84), line(4, "D2", days=85),
              line(5, "S1", days=11), line(6, "D3", days=85))
    assert found("max_days", ctx, c) == [
        lf("max_days", "GZ10000101009000", 2, 1000, "code=D1; limit=30; days=31; by=restriction"),
        # 90 days restricted, but the 84-day cap is the lower limit of the two
        lf("max_days", "GZ10000101009000", 4, 1000, "code=D2; limit=84; days=85; by=max_supply_days"),
        # the service's own restriction applies (its code falls back to the drug's: the only one the rule has)
        lf("max_days", "GZ10000101009000", 5, 1000, "code=S1; limit=10; days=11; by=restriction"),
        # a restriction of 84 ties with the cap: the restriction is named
        lf("max_days", "GZ10000101009000", 6, 1000, "code=D3; limit=84; days=85; by=restriction")]


def test_max_quantity_summed_over_the_claim_one_finding_on_the_first_line():
    ctx = context(Restriction("D1", "max_quantity", "10", unit="盒"))
    # 4 + 6 = 10: at the limit
    assert found("max_quantity", ctx, claim(line(1, "D1", "4"), line(2, "D2", "50"), line(3, "D1", "6"))) == []
    # 4 + 6 + 0.5 = 10.5 > 10: one finding, on line 1 (the item's first), its own amount 4 x 10 yuan
    got = found("max_quantity", ctx, claim(line(1, "D1", "4"), line(2, "D1", "0.5"), line(3, "D1", "6")))
    assert got == [lf("max_quantity", "GZ10000101009000", 1, 4000, "code=D1; limit=10; unit=盒; quantity=10.5")]


def test_daily_frequency_lines_past_the_limit_and_the_code_for_limit_1():
    ctx = context(Restriction("S1", "daily_frequency", "2"), Restriction("S2", "daily_frequency", "1"))
    # S1 twice and S2 once: within both limits
    assert found("daily_frequency", ctx, claim(line(1, "S1"), line(2, "S2"), line(3, "S1"))) == []
    c = claim(line(1, "S1"), line(2, "S2"), line(3, "S1"), line(4, "S2"), line(5, "S1"), line(6, "S1", "2"))
    assert found("daily_frequency", ctx, c) == [
        # S2 a second time: with limit 1 it is a repeated charge (重复收费)
        lf("daily_frequency", "GZ10000102012000", 4, 1000, "code=S2; limit=1; times=2"),
        # S1 a third time, then a line of 2 more (the count by units): both beyond the frequency (限定频次)
        lf("daily_frequency", "GZ10000102014000", 5, 1000, "code=S1; limit=2; times=3"),
        lf("daily_frequency", "GZ10000102014000", 6, 2000, "code=S1; limit=2; times=5")]


# --- together -------------------------------------------------------------------------------------------------


def test_exclusive_later_line_of_the_pair():
    ctx = context(Restriction("S1", "exclusive", other_code="M1"), Restriction("S1", "exclusive", other_code="S2"),
                  Restriction("S1", "exclusive", other_code="M2", enddate=date(2024, 6, 14)))
    assert found("exclusive", ctx, claim(line(1, "S1"), line(2, "D1"), line(3, "M2"))) == []  # S1-M2 ended
    assert found("exclusive", ctx, claim(line(1, "M1"), line(2, "D1"))) == []  # M1 without S1
    got = found("exclusive", ctx, claim(line(1, "M1"), line(2, "D1"), line(3, "S1"), line(4, "S2")))
    assert got == [
        # S1 comes after M1: a service with a material already in its price
        lf("exclusive", "医疗服务项目与医用耗材重复收费", 3, 1000, "code=S1; other_code=M1; other_line=1"),
        # S2 after S1: the restriction is on S1 but binds both ways; two services, 重复收费
        lf("exclusive", "GZ10000102012000", 4, 1000, "code=S2; other_code=S1; other_line=3")]


def test_exclusive_names_the_first_earlier_partner_once():
    ctx = context(Restriction("S1", "exclusive", other_code="M1"), Restriction("M1", "exclusive", other_code="S1"))
    # S1 clashes with M1 at lines 1 and 2; one finding on line 3 naming line 1; line 2 (M1 again) has no earlier S1
    assert found("exclusive", ctx, claim(line(1, "M1"), line(2, "M1"), line(3, "S1"))) == [
        lf("exclusive", "医疗服务项目与医用耗材重复收费", 3, 1000, "code=S1; other_code=M1; other_line=1")]


def test_exclusive_with_itself_is_never_twice():
    ctx = context(Restriction("S1", "exclusive", other_code="S1"))
    assert found("exclusive", ctx, claim(line(1, "S1", quantity="2"))) == []  # a line does not clash with itself
    # the second and third S1 lines each clash with the first
    assert found("exclusive", ctx, claim(line(1, "S1"), line(2, "S1"), line(3, "S1"))) == [
        lf("exclusive", "GZ10000102012000", 2, 1000, "code=S1; other_code=S1; other_line=1"),
        lf("exclusive", "GZ10000102012000", 3, 1000, "code=S1; other_code=S1; other_line=1")]


# --- diagnoses ------------------------------------------------------------------------------------------------


def test_indication_needs_a_matching_diagnosis():
    ctx = context(Restriction("D1", "indication", "J18,J15"), Restriction("S1", "indication", "M17"))
    # J18.9 starts with J18; M17.0 with M17
    assert found("indication", ctx, claim(line(1, "D1"), line(2, "S1"), diagnoses=("M17.0", "J18.9"))) == []
    got = found("indication", ctx, claim(line(1, "D1"), line(2, "S1"), diagnoses=("J45", "M1")))
    assert got == [  # J45 is not J18 or J15; M1 is shorter than M17, not a match
        Finding("indication", "GZ10000101008000", "可疑", "c1", 1, 1000, "code=D1; limit=J18,J15; diagnoses=J45,M1"),
        Finding("indication", "GZ10000102007000", "可疑", "c1", 2, 1000, "code=S1; limit=M17; diagnoses=J45,M1")]
    # no diagnosis at all
    assert [f.evidence for f in found("indication", ctx, claim(line(1, "D1")))] == [
        "code=D1; limit=J18,J15; diagnoses="]


def test_diagnosis_sex_the_longest_prefix_wins():
    ctx = context(Restriction("N40", "diagnosis_sex", "1"), Restriction("N4", "diagnosis_sex", "2"),
                  Restriction("O", "diagnosis_sex", "2", begndate=date(2024, 7, 1)))
    # a man: N41.0 falls under N4 (women only, in this made-up base), N40.1 under N40 (men only); O80 not yet
    man = claim(diagnoses=("N40.1", "N41.0", "O80", "N41.0"), fund_paid=7000)
    assert found("diagnosis_sex", ctx, man) == [
        Finding("diagnosis_sex", "GZ10000204006000", "明确违规", "c1", None, 7000,
                "diagnosis=N41.0; prefix=N4; limit=2; sex=1")]  # once, though N41.0 is there twice
    woman = claim(key="c2", sex="2", diagnoses=("N41.0", "N40.1"), on=date(2024, 7, 1))
    assert [f.evidence for f in found("diagnosis_sex", ctx, woman)] == ["diagnosis=N40.1; prefix=N40; limit=1; sex=2"]


def test_diagnosis_age_outside_the_range():
    ctx = context(Restriction("P", "diagnosis_age", "0-1"), Restriction("R54", "diagnosis_age", "60-"))
    # 59 with senility (R54: 60 and over) and 59 with a perinatal code (P: 0-1)
    got = found("diagnosis_age", ctx, claim(diagnoses=("R54", "P07.3"), birth_date=date(1964, 6, 16)))
    assert [f.evidence for f in got] == ["diagnosis=R54; prefix=R54; limit=60-; age=59",
                                         "diagnosis=P07.3; prefix=P; limit=0-1; age=59"]
    assert found("diagnosis_age", ctx, claim(diagnoses=("R54",), birth_date=date(1964, 6, 15))) == []  # 60 today
    # a baby of 1 year with a P code: within 0-1; 2 years old: not
    assert found("diagnosis_age", ctx, claim(diagnoses=("P07.3",), birth_date=date(2023, 6, 15))) == []
    assert len(found("diagnosis_age", ctx, claim(diagnoses=("P07.3",), birth_date=date(2022, 6, 15)))) == 1


def test_drug_count_distinct_drugs_above_the_limit():
    ctx = context(Restriction("*", "drug_count", "5", enddate=date(2024, 6, 30)),
                  Restriction("*", "drug_count", "4", begndate=date(2024, 7, 1)))
    lines = (line(1, "D1"), line(2, "D2"), line(3, "D3"), line(4, "D1"), line(5, "D4"), line(6, "S1"), line(7, "D5"))
    # 5 distinct drugs (D1 twice, S1 a service): at June's limit of 5
    assert found("drug_count", ctx, claim(*lines)) == []
    # in July the limit is 4
    assert found("drug_count", ctx, claim(*lines, on=date(2024, 7, 1), fund_paid=900)) == [
        Finding("drug_count", "GZ10000202004000", "可疑", "c1", None, 900, "limit=4; drugs=5")]
    # a sixth drug in June
    assert [f.evidence for f in found("drug_count", ctx, claim(*lines, line(8, "D6")))] == ["limit=5; drugs=6"]
    assert found("drug_count", context(), claim(*lines, line(8, "D6"))) == []  # no limit in the base


# --- the batch equals the online checks -----------------------------------------------------------------------

RANDOM_RULES = ["sex", "age_range", "newborn", "child", "child_forbidden", "elderly", "level", "med_type",
                "work_injury", "maternity", "not_paid", "price", "max_days", "max_quantity", "daily_frequency",
                "exclusive", "indication", "diagnosis_sex", "diagnosis_age", "drug_count"]
JULY = date(2024, 7, 1)
JUNE_END = date(2024, 6, 30)
CATALOGUE_RESTRICTIONS = [
    Restriction("D01", "sex", "1"), Restriction("S01", "sex", "2"), Restriction("M01", "sex", "2"),
    Restriction("S02", "age_range", "18-60"), Restriction("S03", "age_range", "-14"),
    Restriction("D02", "newborn", "28"), Restriction("S04", "newborn", "28", begndate=JULY),
    Restriction("M02", "newborn", "60"),
    Restriction("D03", "child", "14"), Restriction("S05", "child", "18"),
    Restriction("D04", "child_forbidden", "12"), Restriction("D05", "elderly", "65"),
    Restriction("D06", "level", "3"), Restriction("S06", "level", "2"),
    Restriction("D07", "med_type", "11,14"), Restriction("S07", "med_type", "14"),
    Restriction("D08", "work_injury", begndate=date(2024, 3, 1)), Restriction("S08", "work_injury"),
    Restriction("D09", "maternity"), Restriction("D10", "not_paid", enddate=date(2024, 9, 30)),
    Restriction("S09", "price", "25.00"), Restriction("S10", "price", "8.5", enddate=JUNE_END),
    Restriction("S10", "price", "9", begndate=JULY),
    Restriction("D11", "max_days", "30"), Restriction("D12", "max_days", "90"), Restriction("D16", "max_days", "84"),
    Restriction("D13", "max_quantity", "6", unit="盒"), Restriction("D14", "max_quantity", "2.5", unit="g"),
    Restriction("S11", "daily_frequency", "1"), Restriction("S12", "daily_frequency", "2"),
    Restriction("S01", "exclusive", other_code="M03"), Restriction("S09", "exclusive", other_code="S10"),
    Restriction("S11", "exclusive", other_code="M04", begndate=JULY),
    Restriction("S12", "exclusive", other_code="M03"), Restriction("M03", "exclusive", other_code="S12"),
    Restriction("S08", "exclusive", other_code="S08"),
    Restriction("D15", "indication", "J18,J15"), Restriction("S06", "indication", "M17"),
    Restriction("M05", "indication", "I25"),
    Restriction("N40", "diagnosis_sex", "1"), Restriction("N4", "diagnosis_sex", "2"),
    Restriction("O", "diagnosis_sex", "2"), Restriction("C61", "diagnosis_sex", "1", enddate=JUNE_END),
    Restriction("P", "diagnosis_age", "0-1"), Restriction("R54", "diagnosis_age", "60-"),
    Restriction("E30.1", "diagnosis_age", "8-18"),
    Restriction("*", "drug_count", "5", enddate=JUNE_END), Restriction("*", "drug_count", "4", begndate=JULY),
]
RANDOM_KINDS = ({f"D{i:02d}": "drug" for i in range(1, 21)} | {f"S{i:02d}": "service" for i in range(1, 13)}
                | {f"M{i:02d}": "material" for i in range(1, 7)})
DIAGNOSES = ["J18.9", "J15.0", "J45", "N40.0", "N41.1", "O80", "C61", "P07.3", "R54", "E30.1", "I25.1", "M17.0",
             "M1", ""]
BIRTHS = [date(1960, 2, 29), date(2016, 2, 29), date(2024, 2, 29), date(1958, 3, 1), date(2012, 7, 1),
          date(2010, 1, 15), date(1985, 9, 9)]


def random_claims(rng: random.Random, n: int) -> list[Claim]:
    claims = []
    codes = sorted(RANDOM_KINDS)
    for i in range(n):
        if rng.random() < 0.25:  # a baby: the claim within 90 days of the birth
            birth = rng.choice([date(2024, 2, 29), date(2024, 5, 20), date(2024, 6, 25)])
            on = birth + timedelta(days=rng.randint(0, 90))
        else:
            birth = rng.choice(BIRTHS) if rng.random() < 0.5 else date(rng.randint(1940, 2023), rng.randint(1, 12),
                                                                    rng.randint(1, 28))
            on = date(2024, 1, 1) + timedelta(days=rng.randint(0, 450))
            on = max(on, birth)
        lines = []
        for sn in range(1, rng.randint(0, 8) + 1):
            code = rng.choice(codes)
            quantity = Decimal(rng.choice(["1", "1", "2", "0.5", "3.25", "4"]))
            price = rng.choice([2500, 2501, 850, 851, 900, 901, 1000]) if code in ("S09", "S10") else 1000
            days = rng.choice([None, 7, 30, 31, 84, 85, 90, 91]) if RANDOM_KINDS[code] == "drug" else None
            lines.append(Line(sn, code, quantity, price, int(quantity * price), days))
        claims.append(Claim(key=f"c{i:04d}", seq=i, psn_no=f"P{i % 50}", sex=rng.choice("12"), birth_date=birth,
                            member_type="in_service", fixmedins_code="H1", setting="clinic",
                            level=rng.randint(1, 3), designated=True, med_type=rng.choice(["11", "14", "41"]), on=on,
                            lines=tuple(lines), diagnoses=tuple(rng.choices(DIAGNOSES, k=rng.randint(0, 3))),
                            fund_paid=rng.randint(0, 100_000)))
    return claims


def test_batch_equals_the_online_checks_on_random_claims():
    ctx = Context(Knowledge(CATALOGUE_RESTRICTIONS), RANDOM_KINDS)
    claims = random_claims(random.Random(8), 400)
    online = findings_frame([f for c in claims for name in RANDOM_RULES for f in RULES[name].check(c, (), ctx)])
    batch = run(frames_of(claims, ctx), rules=RANDOM_RULES)
    # the diagnosis rules can find several things on one claim with no line: ties of run's sort, so sort fully
    assert_frame_equal(batch.sort(SORT), online.sort(SORT))
    counts = dict(online.group_by("rule").len().iter_rows())
    assert set(counts) == set(RANDOM_RULES), f"rules without a hit: {set(RANDOM_RULES) - set(counts)}"
    # and both codes of the rules whose code depends on the data
    codes = set(online.select(pl.format("{} {}", "rule", "code")).to_series())
    assert {"daily_frequency GZ10000102012000", "daily_frequency GZ10000102014000",
            "exclusive GZ10000102012000", "exclusive 医疗服务项目与医用耗材重复收费"} <= codes


def test_quantity_text():
    assert line_rules.quantity_text(Decimal("10.5000")) == "10.5"
    assert line_rules.quantity_text(Decimal("100")) == "100"
    assert line_rules.quantity_text(Decimal("0.0000")) == "0"
