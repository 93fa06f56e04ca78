"""`gongji simulate`: a population's year under two versions. The vectorized what-if equals the sequential engines
member by member; a tiny population's flows, 资金平移 and effects are worked by hand from 321000.yaml."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from gongji.engine.credit import EMPLOYER, INDIVIDUAL, POOL, CreditedMember, monthly_credit
from gongji.engine.credit_frame import needs_previous_year
from gongji.engine.dates import age_on
from gongji.engine.outpatient import CLINIC, PHARMACY, Accumulators, adjudicate
from gongji.engine.terms import compile_terms
from gongji.policy.loader import PolicyBook
from gongji.policy.values import IN_SERVICE, RETIRED
from gongji.services.crediting import _half_up_percent
from gongji.simulate import whatif
from gongji.simulate.population import Population, check
from gongji.simulate.synth import synthesize
from gongji.simulate.versions import VersionError
from gongji.simulate.whatif import (
    Flows,
    SimulationError,
    Transfer,
    member_outcomes,
    scenario,
    simulate,
    to_json,
)
from tests.simulate.tiny import tiny_population

REGIONS = Path(__file__).parents[2] / "gongji" / "policy" / "regions"
COMPARED = ("credit", "credit_pool", "credit_contributed", "paid_in", "outpatient", "inpatient", "reimbursed",
            "out_of_pocket")


# --- (a) the vectorized what-if equals the sequential engines -------------------------------------------------------

def _year_of_credits(version, member: CreditedMember, year: int) -> dict[str, int]:
    out = {INDIVIDUAL: 0, EMPLOYER: 0, POOL: 0, "paid_in": 0}
    for month in range(1, 13):
        for part in monthly_credit(version, member, date(year, month, 1)).parts:
            out[part.source] += part.amount
        if version.contributions is not None and member.member_type == IN_SERVICE:
            out["paid_in"] += (_half_up_percent(member.contribution_base, version.contributions.employer_percent)
                               + _half_up_percent(member.contribution_base, version.contributions.individual_percent))
    return out


def _sequential(pop: Population, a, b, book: PolicyBook) -> dict[int, dict[str, int]]:
    """Each member's year one by one: every visit in date order through `outpatient.adjudicate`, carrying the
    accumulators, and twelve `monthly_credit`s; last year's credits, where a transition rule needs them and the
    member has none, from last year's versions month by month."""
    last_year = [book.policy_for(pop.region, date(pop.year - 1, m, 1)) for m in range(1, 13)] \
        if needs_previous_year(a) or needs_previous_year(b) else []
    visits: dict[int, list[dict]] = {}
    for v in pop.visits.iter_rows(named=True):
        visits.setdefault(v["psn"], []).append(v)
    out = {}
    for m in pop.members.iter_rows(named=True):
        member_type = RETIRED if m["retired"] else IN_SERVICE
        member = CreditedMember(member_type, m["birth_date"], m["contribution_base"], m["pension"])
        prev = m["prev_year_credit"]
        if prev is None and last_year:
            prev = 0
            for month, version in enumerate(last_year, start=1):
                prev += monthly_credit(version, member, date(pop.year - 1, month, 1)).amount
        member = member._replace(previous_year_credits=prev or 0)
        row = {}
        for side, version in (("a", a), ("b", b)):
            terms = compile_terms(version)
            acc, hifp, inpatient, covered = Accumulators(), 0, 0, 0
            for v in visits.get(m["psn"], []):
                r = adjudicate(terms, member_type, age_on(m["birth_date"], v["date"]), v["level"],
                               PHARMACY if v["pharmacy"] else CLINIC, v["covered"], acc, v["prescribed"])
                acc = r.accumulators
                hifp, inpatient, covered = hifp + r.hifp_pay, inpatient + r.inpatient_pay, covered + v["covered"]
                assert r.psn_part_amt == v["covered"] - r.hifp_pay - r.inpatient_pay
            credits = _year_of_credits(version, member, pop.year)
            row |= {
                f"credit_{side}": credits[INDIVIDUAL] + credits[EMPLOYER] + credits[POOL],
                f"credit_pool_{side}": credits[POOL],
                f"credit_contributed_{side}": credits[INDIVIDUAL] + credits[EMPLOYER],
                f"paid_in_{side}": credits["paid_in"],
                f"outpatient_{side}": hifp, f"inpatient_{side}": inpatient, f"reimbursed_{side}": hifp + inpatient,
                f"out_of_pocket_{side}": covered - hifp - inpatient,
            }
            row |= {"visits": len(visits.get(m["psn"], [])), "covered": covered}
        row["net"] = (row["credit_b"] - row["credit_a"]) + (row["reimbursed_b"] - row["reimbursed_a"])
        out[m["psn"]] = row
    return out


def _harder(pop: Population, year: int) -> Population:
    """The synthetic population with every 7th member's costs x 40 (past the caps, into the inpatient benefit),
    every 5th retiree born around 70 (Yunnan's age band), and last year's credits given for every 4th member."""
    members = pop.members.with_columns(
        birth_date=pl.when(pl.col("retired") & (pl.col("psn") % 5 == 0))
        .then(pl.date(year - 70, 1 + pl.col("psn") % 12, 1 + pl.col("psn") % 28)).otherwise(pl.col("birth_date")),
        prev_year_credit=pl.when(pl.col("psn") % 4 == 0).then(pl.col("psn") * 1001).otherwise(None))
    visits = pop.visits.with_columns(covered=pl.when(pl.col("psn") % 7 == 0).then(pl.col("covered") * 40)
                                     .otherwise(pl.col("covered")))
    return check(members, visits, pop.region, pop.year)


@pytest.mark.parametrize(("region", "year", "side_a", "side_b"), [
    ("321000", 2024, "321000@2022-06-01", "321000@2024-06-01"),
    # the transition year: last year's credits from 2022's pre-reform rules; Yunnan: per-visit deductible,
    # cost above the cap under the inpatient benefit, the fixed credit by age
    ("321000", 2023, "321000@2023-06-01", "530000@2025-06-01"),
    # top-up deductible, retiree ratios from 70, a cost band, a small inpatient cap, no contribution rates
    ("530000", 2025, "530000@2025-06-01", "990100@2025-06-01"),
])
def test_member_outcomes_equal_the_sequential_engines(book, region, year, side_a, side_b):
    pop = _harder(synthesize(300, region, year, seed=year), year)
    a, b = scenario("--a", side_a, book).version, scenario("--b", side_b, book).version
    got = member_outcomes(pop, a, b, book).sort("psn")
    expected = _sequential(pop, a, b, book)
    columns = ["visits", "covered", *(f"{c}_{s}" for s in "ab" for c in COMPARED), "net"]
    rows = {psn: dict(zip(columns, values, strict=True))
            for psn, *values in got.select("psn", *columns).iter_rows()}
    assert rows.keys() == expected.keys()
    mismatches = [(psn, rows[psn], expected[psn]) for psn in rows if rows[psn] != expected[psn]]
    assert not mismatches, mismatches[:2]
    # the sample exercises what it is meant to
    assert got["visits"].sum() > 1000
    if side_b.startswith("530000"):
        assert got["inpatient_b"].sum() > 0
    if side_a.startswith("321000@2023"):
        assert got.filter(pl.col("retired"))["credit_pool_a"].min() > 0


# --- (b) a tiny population worked by hand -----------------------------------------------------------------------------

@pytest.fixture
def tiny(book) -> whatif.WhatIf:
    return simulate(tiny_population(), scenario("--a", "321000@2022-06-01", book),
                    scenario("--b", "321000@2024-06-01", book), book)


def test_each_member_by_hand(tiny):
    rows = tiny.outcomes.sort("psn").select("psn", "age", "age_band", "credit_a", "credit_b", "paid_in_a",
                                            "reimbursed_a", "reimbursed_b", "out_of_pocket_b", "net").rows()
    assert rows == [
        # A (2022): own 2 % + employer 1 % of 5000.00 = 100.00 + 50.00 a month = 1800.00; paid in 7 % + 2 % =
        # 350.00 + 100.00 a month = 5400.00. B (2024): 2 % = 100.00 a month = 1200.00; deductible 600.00 a year:
        # 400.00 all deductible, then 200.00 of 500.00, (500 - 200) x 65 % = 195.00, the pharmacy at the
        # prescriber's 70 %: 300 x 70 % = 210.00; 405.00 reimbursed, 1200 - 405 = 795.00 left to pay;
        # net (1200 - 1800) + (405 - 0) = -195.00. Age 44 on 1 July 2024.
        (1, 44, "40-49", 180_000, 120_000, 540_000, 0, 40_500, 79_500, -19_500),
        # A: 4 % of the pension 3500.00 = 140.00 a month = 1680.00; B: 2.5 % of 3000.00 = 75.00 a month = 900.00;
        # deductible 500.00: (1000 - 500) x 80 % = 400.00; the pharmacy without a prescription is not pooled;
        # 12000 x 70 % = 8400.00, but the cap of 8000.00 leaves 7600.00; 8000.00 reimbursed, 13200 - 8000 =
        # 5200.00 left; net (900 - 1680) + 8000 = +7220.00
        (2, 74, "70-79", 168_000, 90_000, 0, 0, 800_000, 520_000, 722_000),
        # base 6000.50, A: 2 % = 120.01 + 1 % = 60.005 -> 60.01 = 180.02 a month = 2160.24; paid in 7 % = 420.035
        # -> 420.04 + 2 % 120.01 = 540.05 a month = 6480.60; B: 120.01 a month = 1440.12; net -720.12.
        # 29 on 1 July 2024 (30 on the 2nd)
        (3, 29, "<30", 216_024, 144_012, 648_060, 0, 0, 0, -72_012),
        # A 1800.00, B 1200.00 as member 1; level 3: (1600 - 600) x 60 % = 600.00; net -600 + 600 = 0
        (4, 53, "50-59", 180_000, 120_000, 540_000, 0, 60_000, 100_000, 0),
    ]


def test_flows_by_hand(tiny):
    # A: contributions 5400.00 + 6480.60 + 5400.00 = 17280.60, credited 1800 + 2160.24 + 1800 = 5760.24,
    # to the pool 17280.60 - 5760.24 = 11520.36; retirees' credits 1680.00, no outpatient pooling:
    # out 1680.00, balance 11520.36 - 1680.00 = 9840.36; credits 5760.24 + 1680 = 7440.24;
    # out of pocket 1200 + 13200 + 1600 = 16000.00
    a = tiny.flows("a")
    assert a == Flows(contributions=1_728_060, credited_from_contributions=576_024, pool_in=1_152_036,
                      retiree_credits=168_000, outpatient=0, inpatient=0, credits=744_024, out_of_pocket=1_600_000)
    assert (a.pool_out, a.pool_net) == (168_000, 984_036)
    # B: contributions 17280.60, credited 1200 + 1440.12 + 1200 = 3840.12, to the pool 13440.48; retirees'
    # credits 900.00, outpatient 405 + 8000 + 600 = 9005.00: out 9905.00, balance 13440.48 - 9905 = 3535.48;
    # credits 3840.12 + 900 = 4740.12; out of pocket 16000 - 9005 = 6995.00
    b = tiny.flows("b")
    assert b == Flows(contributions=1_728_060, credited_from_contributions=384_012, pool_in=1_344_048,
                      retiree_credits=90_000, outpatient=900_500, inpatient=0, credits=474_012, out_of_pocket=699_500)
    assert (b.pool_out, b.pool_net) == (990_500, 353_548)


def test_the_money_swap_by_hand(tiny):
    # 资金平移: credits 7440.24 - 4740.12 = 2700.12 moved out of accounts; reimbursement 9005.00 - 0 added;
    # 9005.00 - 2700.12 = 6304.88 more paid out than moved
    assert tiny.transfer() == Transfer(270_012, 900_500)
    assert tiny.transfer().difference == 630_488
    # in service: 5760.24 - 3840.12 = 1920.12 against 405 + 600 = 1005.00: -915.12
    in_service = tiny.transfer(~pl.col("retired"))
    assert (in_service.moved_out_of_accounts, in_service.reimbursement_added, in_service.difference) == (
        192_012, 100_500, -91_512)
    # retired: 1680 - 900 = 780.00 against 8000.00: +7220.00
    assert tiny.transfer(pl.col("retired")) == Transfer(78_000, 800_000)


def test_effects_by_hand(tiny):
    # nets -195.00, +7220.00, -720.12, 0: one ahead, two behind, one even; mean loss (-195 - 720.12) / 2 =
    # -457.56; sorted -720.12, -195.00, 0, 7220.00: decile q takes the member at floor(3q) ("the lower")
    assert tiny.effects() == {
        "members": 4, "ahead": 1, "behind": 2, "even": 1, "mean_gain": 722_000, "mean_loss": -45_756,
        "deciles": {"p10": -72_012, "p20": -72_012, "p30": -72_012, "p40": -19_500, "p50": -19_500, "p60": -19_500,
                    "p70": 0, "p80": 0, "p90": 0},
        "min": -72_012, "max": 722_000,
    }
    retired = tiny.effects(pl.col("retired"))
    assert (retired["members"], retired["ahead"], retired["mean_gain"], retired["mean_loss"]) == (1, 1, 722_000, 0)
    assert retired["deciles"] == {f"p{10 * i}": 722_000 for i in range(1, 10)}


def test_a_half_fen_mean_rounds_half_up_away_from_zero():
    # -915.13 / 2 = -457.565 -> -457.57; 0.03 / 2 = 0.015 -> 0.02
    assert whatif.mean_fen(-91_513, 2) == -45_757
    assert whatif.mean_fen(3, 2) == 2
    assert whatif.mean_fen(0, 0) == 0


def test_groups_by_hand(tiny):
    groups = tiny.groups()
    assert groups.select("retired", "age_band", "members", "visits", "covered", "credit_a", "credit_b",
                         "reimbursed_b", "out_of_pocket_a", "net", "ahead", "behind").rows() == [
        (False, "<30", 1, 0, 0, 216_024, 144_012, 0, 0, -72_012, 0, 1),
        (False, "40-49", 1, 3, 120_000, 180_000, 120_000, 40_500, 120_000, -19_500, 0, 1),
        (False, "50-59", 1, 1, 160_000, 180_000, 120_000, 60_000, 160_000, 0, 0, 0),
        (True, "70-79", 1, 3, 1_320_000, 168_000, 90_000, 800_000, 1_320_000, 722_000, 1, 0),
    ]


def test_to_json_by_hand(tiny):
    out = to_json(tiny)
    assert out["population"] == {"region": "321000", "year": 2024, "members": 4, "visits": 7}
    assert out["a"].startswith("321000@2022-06-01: 改革前") and out["b"].startswith("321000@2024-06-01: ")
    assert out["flows"]["a"] == {
        "contributions": "17280.60", "credited_from_contributions": "5760.24", "pool_in": "11520.36",
        "retiree_credits": "1680.00", "outpatient": "0.00", "inpatient": "0.00", "pool_out": "1680.00",
        "pool_net": "9840.36", "credits": "7440.24", "out_of_pocket": "16000.00"}
    assert out["flows"]["b"]["pool_net"] == "3535.48" and out["flows"]["b"]["outpatient"] == "9005.00"
    assert out["transfer"] == {
        "moved_out_of_accounts": "2700.12", "reimbursement_added": "9005.00", "difference": "6304.88",
        "by_member_type": {
            "in_service": {"moved_out_of_accounts": "1920.12", "reimbursement_added": "1005.00",
                           "difference": "-915.12"},
            "retired": {"moved_out_of_accounts": "780.00", "reimbursement_added": "8000.00",
                        "difference": "7220.00"}}}
    effects = out["effects"]
    assert (effects["members"], effects["ahead"], effects["behind"], effects["even"]) == (4, 1, 2, 1)
    assert (effects["mean_gain"], effects["mean_loss"], effects["min"], effects["max"]) == (
        "7220.00", "-457.56", "-720.12", "7220.00")
    assert effects["deciles"]["p50"] == "-195.00" and effects["deciles"]["p90"] == "0.00"
    assert effects["by_member_type"]["in_service"]["mean_loss"] == "-457.56"
    first = out["groups"][0]
    assert first == {"retired": False, "age_band": "<30", "member_type": "in_service", "members": 1, "visits": 0,
                     "covered": "0.00", "credit_a": "2160.24", "credit_b": "1440.12", "reimbursed_a": "0.00",
                     "reimbursed_b": "0.00", "out_of_pocket_a": "0.00", "out_of_pocket_b": "0.00",
                     "net": "-720.12", "ahead": 0, "behind": 1}


def test_without_contribution_rates_the_pool_income_is_unknown(book):
    pop = tiny_population()
    result = simulate(pop, scenario("--a", "321000@2024-06-01", book), scenario("--b", "990100@2025-06-01", book),
                      book)
    assert result.flows("a").contributions == 1_728_060
    b = result.flows("b")
    assert (b.contributions, b.pool_in, b.pool_net) == (None, None, None)
    # 990100 credits 1.5 %: 5000.00 -> 75.00, 6000.50 -> 90.0075 -> 90.01 a month; x 12 = 900 + 1080.12 + 900
    assert b.credited_from_contributions == 288_012
    flows = to_json(result)["flows"]["b"]
    assert (flows["contributions"], flows["pool_in"], flows["pool_net"]) == (None, None, None)


def test_json_amounts_are_yuan_strings_and_groups_cover_each_member_once(book):
    pop = synthesize(400, "321000", 2024, seed=11)
    result = simulate(pop, scenario("--a", "321000@2022-06-01", book), scenario("--b", "321000@2024-06-01", book),
                      book)
    out = to_json(result)
    for side in ("a", "b"):
        assert all(isinstance(v, str) and v.replace("-", "").replace(".", "").isdigit() and v[-3] == "."
                   for v in out["flows"][side].values())
    counts = {"members", "visits", "ahead", "behind"}
    for group in out["groups"]:
        for key, value in group.items():
            if key in counts:
                assert isinstance(value, int)
            elif key not in ("retired", "age_band", "member_type"):
                assert isinstance(value, str) and value[-3] == ".", (key, value)
    assert sum(g["members"] for g in out["groups"]) == 400
    keys = [(g["member_type"], g["age_band"]) for g in out["groups"]]
    assert len(keys) == len(set(keys))
    per_member = result.outcomes.group_by("retired", "age_band").len()
    assert sorted((("retired" if r else "in_service"), band, n) for r, band, n in per_member.iter_rows()) == sorted(
        (g["member_type"], g["age_band"], g["members"]) for g in out["groups"])
    assert sum(g["visits"] for g in out["groups"]) == pop.visits.height
    assert out["effects"]["members"] == 400
    assert out["effects"]["ahead"] + out["effects"]["behind"] + out["effects"]["even"] == 400


# --- (d) scenarios ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "error", "message"), [
    ("321000-2022-06-01", VersionError, "--a '321000-2022-06-01': give REGION@DATE"),
    ("3210@2022-06-01", VersionError, "--a '3210@2022-06-01': give REGION@DATE"),
    ("321000@2022-13-01", VersionError, "--a '321000@2022-13-01': '2022-13-01' is not a date (YYYY-MM-DD)"),
    ("999999@2024-06-01", VersionError, "--a 999999@2024-06-01: unknown region '999999'"),
    ("321000@2021-06-01", VersionError, "--a 321000@2021-06-01: region 321000 has no policy version in force on "
                                        "2021-06-01"),
])
def test_a_bad_side_names_the_option_and_value(book, spec, error, message):
    with pytest.raises(error) as err:
        scenario("--a", spec, book)
    assert str(err.value).startswith(message), str(err.value)


def _edited(tmp_path: Path, source: str, *replacements: tuple[str, str]) -> Path:
    text = (REGIONS / source).read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"edited-{source}"
    path.write_text(text, encoding="utf-8")
    return path


PLUS_5 = (("in_service: {1: 70%, 2: 65%, 3: 60%}", "in_service: {1: 75%, 2: 70%, 3: 65%}"),
          ("retired: {1: 80%, 2: 75%, 3: 70%}\n        source: seeds/001_c44db5705ff65f29.txt Q7 table, Q8",
           "retired: {1: 85%, 2: 80%, 3: 75%}\n        source: seeds/001_c44db5705ff65f29.txt Q7 table, Q8"))


def test_an_edited_policy_file_is_side_b(book, tmp_path):
    path = _edited(tmp_path, "321000.yaml", *PLUS_5)
    side_b = scenario("--b", "321000@2024-06-01", book, path)
    assert side_b.spec == "321000@2024-06-01 (edited-321000.yaml)"
    assert side_b.version.outpatient.ratios.in_service == {1: 7500, 2: 7000, 3: 6500}
    result = simulate(tiny_population(), scenario("--a", "321000@2022-06-01", book), side_b, book)
    reimbursed = dict(result.outcomes.select("psn", "reimbursed_b").iter_rows())
    # member 1: (500 - 200) x 70 % = 210.00 + 300 x 75 % = 225.00 = 435.00 (405.00 at the shipped ratios)
    # member 2: (1000 - 500) x 85 % = 425.00, then 12000 x 75 % = 9000.00 against 8000 - 425 = 7575.00 left: 8000.00
    # member 4: (1600 - 600) x 65 % = 650.00
    assert reimbursed == {1: 43_500, 2: 800_000, 3: 0, 4: 65_000}


@pytest.mark.parametrize(("source", "replacements", "spec", "error", "message"), [
    ("530000.yaml", (), "321000@2024-06-01", SimulationError, ": is region 530000, not 321000 of --b"),
    ("321000.yaml", (("in_service: {1: 70%, 2: 65%, 3: 60%}", "in_service: {1: 40%, 2: 65%, 3: 60%}"),),
     "321000@2024-06-01", SimulationError,
     ": edited-321000.yaml: versions[1].outpatient.ratios.in_service.1: outpatient ratio below the national floor "
     "of 50% (value: '40%')"),
    ("321000.yaml", (("retired: \"500.00\"", "retired: \"700.00\""),), "321000@2024-06-01", SimulationError,
     ": edited-321000.yaml: versions[1].outpatient.deductible.retired.1: retiree deductible above the in-service "
     "600.00 (value: '700.00')"),
    ("321000.yaml", (("admdvs: \"321000\"", "admdvs: \"321000\"\nmayor: nobody"),), "321000@2024-06-01",
     SimulationError, ": edited-321000.yaml: mayor: unknown key"),
    ("321000.yaml", (), "321000@2021-06-01", SimulationError,
     "--b 321000@2021-06-01: edited-321000.yaml has no version in force on 2021-06-01"),
    ("321000.yaml", (), "321000@2021-13-01", VersionError, "--b '321000@2021-13-01': '2021-13-01' is not a date"),
])
def test_a_bad_policy_file_names_the_option_and_value(book, tmp_path, source, replacements, spec, error, message):
    path = _edited(tmp_path, source, *replacements)
    with pytest.raises(error) as err:
        scenario("--b", spec, book, path)
    text = str(err.value)
    if message.startswith(":"):
        assert text.startswith(f"--policy-file {path}{message}"), text
    else:
        assert text.startswith(message), text


def test_a_policy_file_that_is_not_yaml(book, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("admdvs: [unclosed", encoding="utf-8")
    with pytest.raises(SimulationError, match=r"^--policy-file .*broken\.yaml: broken\.yaml: cannot be read as YAML"):
        scenario("--b", "321000@2024-06-01", book, path)
    with pytest.raises(SimulationError, match=r"^--policy-file .*missing\.yaml: "):
        scenario("--b", "321000@2024-06-01", book, tmp_path / "missing.yaml")


def test_a_transition_year_without_last_years_rules_is_refused(book):
    """A population of 2022 under the transition rule needs the credits of 2021, for which 321000.yaml has no
    version: refused, naming the column and the region."""
    pop = synthesize(20, "321000", 2022, seed=1)
    with pytest.raises(SimulationError) as err:
        member_outcomes(pop, book.policy_for("321000", date(2023, 6, 1)), book.policy_for("321000", date(2024, 6, 1)),
                        book)
    assert str(err.value) == ("members: prev_year_credit is empty for 20 members and region 321000 has no policy "
                              "for every month of 2021 to compute it")


def test_steps_are_reported(book):
    seen = []
    simulate(tiny_population(), scenario("--a", "321000@2022-06-01", book),
             scenario("--b", "321000@2024-06-01", book), book, advance=seen.append)
    assert len(seen) == 3 and seen[1:] == ["policy A", "policy B"]


def test_the_policy_files_used_here_are_the_shipped_ones():
    """The hand-worked numbers above read these values from 321000.yaml."""
    data = yaml.safe_load((REGIONS / "321000.yaml").read_text(encoding="utf-8"))
    pre, _transition, final = data["versions"]
    assert pre["crediting"]["in_service"]["own_percent"] == "2%"
    assert pre["crediting"]["in_service"]["employer_percent"] == "1%"
    assert pre["crediting"]["retired"]["percent"] == "4%"
    assert (pre["contributions"]["employer_percent"], pre["contributions"]["individual_percent"]) == ("7%", "2%")
    assert final["outpatient"]["deductible"]["in_service"] == "600.00"
    assert final["crediting"]["retired"]["percent"] == "2.5%"
    assert final["reference_values"]["reform_year_average_pension"]["amount"] == "3000.00"
