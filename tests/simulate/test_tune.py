"""`gongji tune`: versions scaled and shifted as a policy file would state them, the largest ratio shift a budget
pays for, the frontier of cost against members ahead. Amounts worked by hand from 321000.yaml, 530000.yaml and
tests/policies/990100.yaml."""

from datetime import date
from fractions import Fraction

import polars as pl
import pytest

from gongji.policy import floor
from gongji.simulate.population import Population, check, engine_frame
from gongji.simulate.synth import synthesize
from gongji.simulate.tune import POINT, _shift_range, adjust, to_json, tune, versions_for
from gongji.simulate.versions import VersionError
from gongji.simulate.whatif import SimulationError, settle_frame
from tests.simulate.tiny import tiny_population

F = Fraction


@pytest.fixture(scope="module")
def yangzhou(book):
    """(pre-reform 2022, reform 2024)"""
    return book.policy_for("321000", date(2022, 6, 1)), book.policy_for("321000", date(2024, 6, 1))


# --- adjust --------------------------------------------------------------------------------------------------------

def test_an_annual_deductible_stays_one_amount(yangzhou):
    _pre, base = yangzhou
    tuned = adjust(base, F(3, 4), F(3, 2), 500)
    op = tuned.outpatient
    # 600.00 x 3/4 = 450.00, 500.00 x 3/4 = 375.00, one amount a year for every level
    assert op.deductible.basis == "annual"
    assert (op.deductible.in_service, op.deductible.retired) == ({1: 45_000, 2: 45_000, 3: 45_000},
                                                                 {1: 37_500, 2: 37_500, 3: 37_500})
    # caps 7000.00 x 3/2 = 10500.00, 8000.00 x 3/2 = 12000.00; what lies above stays
    assert (op.cap.in_service, op.cap.retired, op.cap.above) == (1_050_000, 1_200_000, "nothing")
    # ratios 70/65/60 and 80/75/70, 5 points up
    assert op.ratios.in_service == {1: 7500, 2: 7000, 3: 6500}
    assert op.ratios.retired == {1: 8500, 2: 8000, 3: 7500}
    assert tuned.title == f"{base.title} · deductible x3/4, cap x3/2, ratios +5 points"
    assert tuned.crediting == base.crediting and tuned.contributions == base.contributions
    assert base.outpatient.deductible.in_service[1] == 60_000  # the book's version is left as it was


def test_amounts_scale_to_whole_yuan_half_up(yangzhou):
    _pre, base = yangzhou
    op = adjust(base, F(1, 16), F(1, 16), -1000).outpatient
    # 600 / 16 = 37.5 -> 38.00; 500 / 16 = 31.25 -> 31.00; caps 7000 / 16 = 437.5 -> 438.00, 8000 / 16 = 500.00
    assert (op.deductible.in_service[1], op.deductible.retired[1]) == (3_800, 3_100)
    assert (op.cap.in_service, op.cap.retired) == (43_800, 50_000)
    # 10 points down: 60/55/50 and 70/65/60, the national floor's 50 % reached
    assert op.ratios.in_service == {1: 6000, 2: 5500, 3: 5000}
    assert op.ratios.retired == {1: 7000, 2: 6500, 3: 6000}
    assert adjust(base, F(1, 16), F(1, 16), -1000).title.endswith("ratios -10 points")


def test_per_level_deductibles_age_bands_and_cost_bands(book):
    base = book.policy_for("990100", date(2025, 6, 1))
    tuned = adjust(base, F(3, 4), F(1), 1500)
    op = tuned.outpatient
    # annual_topup by level: 100/300/500 x 3/4 = 75/225/375; retirees 50/200/400 x 3/4 = 37.5 -> 38, 150, 300
    assert op.deductible.basis == "annual_topup"
    assert op.deductible.in_service == {1: 7_500, 2: 22_500, 3: 37_500}
    assert op.deductible.retired == {1: 3_800, 2: 15_000, 3: 30_000}
    # 15 points up: 70/60/50 -> 85/75/65, 80/70/60 -> 95/85/75; from 70: 90/80/70 -> 100 (105 clipped), 95, 85
    assert op.ratios.in_service == {1: 8500, 2: 7500, 3: 6500}
    assert op.ratios.retired == {1: 9500, 2: 8500, 3: 7500}
    assert op.ratios.retired_from_age == {70: {1: 10_000, 2: 9500, 3: 8500}}
    # the band above 20,000.00 keeps its threshold, its ratios move too: 60/55/50 -> 75/70/65, 65/60/55 -> 80/75/70
    (band,) = op.cost_bands
    assert band.above == 2_000_000
    assert band.ratios.in_service == {1: 7500, 2: 7000, 3: 6500}
    assert band.ratios.retired == {1: 8000, 2: 7500, 3: 7000}
    # caps x1 stay; the inpatient benefit is not tuned
    assert (op.cap.in_service, op.cap.retired, op.cap.above) == (3_000_000, 4_000_000, "inpatient")
    assert tuned.inpatient == base.inpatient
    assert floor.violations(tuned) == []


def test_a_per_visit_deductible(book):
    base = book.policy_for("530000", date(2025, 6, 1))
    op = adjust(base, F(1, 2), F(2), 0).outpatient
    # 20/40/60 per visit x 1/2 = 10/20/30; caps 6000.00 x 2 = 12000.00, above it the inpatient benefit
    assert op.deductible.basis == "per_visit"
    assert op.deductible.in_service == op.deductible.retired == {1: 1_000, 2: 2_000, 3: 3_000}
    assert (op.cap.in_service, op.cap.retired, op.cap.above) == (1_200_000, 1_200_000, "inpatient")
    assert op.ratios == base.outpatient.ratios


def test_a_version_without_outpatient_pooling_cannot_be_tuned(yangzhou):
    pre, _base = yangzhou
    with pytest.raises(SimulationError, match="has no outpatient pooling to tune"):
        adjust(pre, F(1), F(1), 0)


def test_the_shift_range_keeps_every_ratio_within_50_and_100_percent(book, yangzhou):
    # 321000: lowest 60 % (10 points to the floor), highest 80 % (20 points to 100 %)
    assert _shift_range(yangzhou[1].outpatient) == (-1000, 2000)
    # 990100: the band's 50 % cannot go lower; the 90 % from age 70 can go 10 points up
    assert _shift_range(book.policy_for("990100", date(2025, 6, 1)).outpatient) == (0, 1000)


# --- tune on a population worked by hand --------------------------------------------------------------------------

def _tiny() -> Population:
    """The what-if tests' four members (tests/simulate/tiny.py); member 2's 200.00 at a pharmacy without a
    prescription is never pooled, so it changes no cost below."""
    return tiny_population()


# Reimbursement of the tiny population at 321000's 2024 rules with every ratio s points up (s >= -6):
# member 1: deductible 600.00 takes 400.00 and 200.00; (500 - 200) x (65 + s) % + 300 x (70 + s) % = 405 + 6s
# member 2: (1000 - 500) x (80 + s) % = 400 + 5s, then 12000 x (70 + s) % = 8400 + 120s, more than the cap of
#   8000.00 leaves (8400 + 125s >= 7600 for s >= -6): 8000.00 in all
# member 4: (1600 - 600) x (60 + s) % = 600 + 10s
# in all 9005.00 + 16.00 s yuan


def test_the_transfer_budget_is_the_money_moved_out_of_accounts(book, yangzhou):
    pre, base = yangzhou
    result = tune(_tiny(), pre, base, book, None, [F(1)], [F(1)])
    # before (2022): 5000.00 x (2 % + 1 %) = 150.00 a month = 1800.00 (members 1 and 4); 3500.00 x 4 % = 140.00 =
    # 1680.00; 6000.50: 120.01 + 60.01 = 180.02 = 2160.24. After (2024): 100.00 = 1200.00; 75.00 = 900.00;
    # 120.01 = 1440.12. Moved out: 600 + 780 + 720.12 + 600 = 2700.12
    assert (result.transfer, result.budget) == (270_012, 270_012)
    # even 10 points down costs more than 2700.12: member 1 405 - 60 = 345.00, member 2 500 x 70 % + 12000 x 60 %
    # = 7550.00 (below the cap), member 4 1000 x 50 % = 500.00: 8395.00; the pair is not a candidate
    assert (result.candidates, result.unaffordable) == ([], 1)


@pytest.mark.parametrize(("budget", "shift", "cost", "ahead"), [
    # 9005 + 16 x 5 = 9085.00 exactly: 5 points; 6 points would cost 9101.00
    (908_500, 500, 908_500, 2),
    # one fen less: 4 points, 9005 + 64 = 9069.00
    (908_499, 400, 906_900, 2),
    # 9005.00: no shift; member 4 gets (1600 - 600) x 60 % = 600.00 against 600.00 less credit: even, not ahead
    (900_500, 0, 900_500, 1),
])
def test_the_largest_shift_within_the_budget_by_hand(book, yangzhou, budget, shift, cost, ahead):
    pre, base = yangzhou
    result = tune(_tiny(), pre, base, book, budget, [F(1)], [F(1)])
    (c,) = result.candidates
    assert (c.shift, c.cost, c.ahead, c.members) == (shift, cost, ahead, 4)
    # ahead of 2022: member 2 always ((900 - 1680) + 8000); member 4 from 1 point up ((1200 - 1800) + 600 + 10s);
    # member 1 ((1200 - 1800) + 405 + 6s) and member 3 (-720.12) never
    assert c.share_ahead == F(ahead, 4)
    assert c.version.outpatient.ratios.in_service[1] == 7000 + shift


def test_a_too_small_budget_gives_no_candidates(book, yangzhou):
    pre, base = yangzhou
    result = tune(_tiny(), pre, base, book, 1, [F(1), F(2)], [F(1, 2), F(1)])
    assert (result.candidates, result.unaffordable, result.budget) == ([], 4, 1)
    assert to_json(result) == {"budget": "0.01", "transfer": "2700.12", "unaffordable": 4, "candidates": []}


def test_a_reform_that_moves_nothing_out_of_accounts_needs_a_budget(book, yangzhou):
    _pre, base = yangzhou
    with pytest.raises(SimulationError) as err:
        tune(_tiny(), base, base, book, None, [F(1)], [F(1)])
    assert str(err.value).startswith("--budget transfer: ") and "moves no money out of accounts (0.00 yuan)" in str(
        err.value)


def test_a_sample_is_scaled_to_the_population(book, yangzhou):
    """Twelve members alike: a sample of three costs a quarter of the whole, scaled x 4 to the same figure;
    credits and the transfer are always the whole population's."""
    pop = _tiny()
    members = pl.concat([pop.members.filter(pl.col("psn") == 4).with_columns(psn=pl.lit(n, pl.Int64))
                         for n in range(1, 13)])
    visits = pl.concat([pop.visits.filter(pl.col("psn") == 4).with_columns(psn=pl.lit(n, pl.Int64))
                        for n in range(1, 13)])
    alike = check(members, visits, "321000", 2024)
    pre, base = yangzhou
    # 12 x 600 (the employer's 1 % no longer credited) = 7200.00 moved; each costs 600 + 10s: the budget 7200 + 120
    # x 3 pays for 3 points
    whole = tune(alike, pre, base, book, 756_000, [F(1)], [F(1)])
    sampled = tune(alike, pre, base, book, 756_000, [F(1)], [F(1)], sample=3, seed=5)
    assert whole.transfer == sampled.transfer == 720_000
    assert [(c.shift, c.cost, c.ahead, c.members) for c in whole.candidates] == [(300, 756_000, 12, 12)]
    assert [(c.shift, c.cost, c.ahead, c.members) for c in sampled.candidates] == [(300, 756_000, 3, 3)]


def test_a_scaled_cost_rounds_half_up(book, yangzhou):
    """A sample of 3 of the 4 tiny members, scaled x 4/3, at the highest shift (+20 points, the budget being no
    limit). Whichever three are drawn, the cost is their reimbursement x 4/3 rounded half-up:
    at +20 points member 1 pays 405 + 120 = 525.00; member 2 8000.00 (capped); member 3 nothing; member 4
    (1600 - 600) x 80 % = 800.00. Samples {1, 2, 4} 9325.00 x 4/3 = 12433.333 -> 12433.33; {1, 2, 3} 8525.00 ->
    11366.667 -> 11366.67; {2, 3, 4} 8800.00 -> 11733.333 -> 11733.33; {1, 3, 4} 1325.00 -> 1766.667 -> 1766.67."""
    pre, base = yangzhou
    allowed = {1_243_333, 1_136_667, 1_173_333, 176_667}
    for seed in range(8):
        (c,) = tune(_tiny(), pre, base, book, 10**9, [F(1)], [F(1)], sample=3, seed=seed).candidates
        assert c.shift == 2000 and c.members == 3
        assert c.cost in allowed, (seed, c.cost)


def test_steps_are_reported(book, yangzhou):
    seen = []
    tune(_tiny(), *yangzhou, book, 908_500, [F(1), F(2)], [F(1)], advance=seen.append)
    assert seen == ["credits and the before-reform year", "deductible x1, cap x1", "deductible x2, cap x1"]


# --- tune on a synthetic population: the search and the frontier --------------------------------------------------

@pytest.fixture(scope="module")
def tuned(book, yangzhou):
    pop = synthesize(1_000, "321000", 2024, seed=17)
    pre, base = yangzhou
    factors_d, factors_c = (F(1, 2), F(1), F(3, 2), F(2)), (F(1, 2), F(1), F(2))
    return pop, tune(pop, pre, base, book, None, factors_d, factors_c), factors_d, factors_c


def test_each_candidate_fits_the_budget_and_one_point_more_would_not(tuned, yangzhou):
    pop, result, factors_d, factors_c = tuned
    base = yangzhou[1]
    frame = engine_frame(pop)
    low, high = _shift_range(base.outpatient)
    assert len(result.candidates) + result.unaffordable == len(factors_d) * len(factors_c)
    assert len(result.candidates) >= 3
    assert [c.cost for c in result.candidates] == sorted(c.cost for c in result.candidates)

    def cost(d, c, shift):
        paid = settle_frame(adjust(base, d, c, shift), frame)
        return int(paid["hifp_pay"].sum() + paid["inpatient_pay"].sum())

    for c in result.candidates:
        assert c.shift % POINT == 0 and low <= c.shift <= high
        assert c.cost == cost(c.deductible_factor, c.cap_factor, c.shift) <= result.budget
        if c.shift < high:
            assert cost(c.deductible_factor, c.cap_factor, c.shift + POINT) > result.budget
        assert floor.violations(c.version) == []
        assert c.members == 1_000


def test_the_frontier(tuned):
    _pop, result, _d, _c = tuned
    frontier = result.frontier
    assert frontier
    costs, shares = [c.cost for c in frontier], [c.share_ahead for c in frontier]
    assert costs == sorted(costs)
    assert all(b > a for a, b in zip(shares, shares[1:], strict=False))  # strictly more members ahead
    for f in frontier:
        dominated = [c for c in result.candidates if c.cost <= f.cost and c.share_ahead >= f.share_ahead
                     and (c.cost < f.cost or c.share_ahead > f.share_ahead)]
        assert not dominated
    # whatever is not on the frontier is no better than some frontier point on both counts
    for c in result.candidates:
        assert any(f.cost <= c.cost and f.share_ahead >= c.share_ahead for f in frontier)
    out = to_json(result)
    assert [c["frontier"] for c in out["candidates"]] == [any(c is f for f in frontier) for c in result.candidates]


def test_to_json_amounts_are_yuan_strings(tuned):
    _pop, result, _d, _c = tuned
    out = to_json(result)
    assert out["budget"] == out["transfer"] and out["budget"][-3] == "."
    assert out["unaffordable"] == result.unaffordable
    first, c = out["candidates"][0], result.candidates[0]
    assert first["cost"][-3] == "." and int(first["cost"].replace(".", "")) == c.cost
    assert set(first) == {"deductible_factor", "cap_factor", "ratio_shift", "deductible", "ratios", "cap", "cost",
                          "members_ahead", "members", "share_ahead", "frontier"}


def test_the_ratio_shift_in_json(book, yangzhou):
    pre, base = yangzhou
    up = to_json(tune(_tiny(), pre, base, book, 908_500, [F(1)], [F(1)]))["candidates"][0]
    assert (up["ratio_shift"], up["deductible_factor"], up["cap_factor"]) == ("5%", "1", "1")
    assert up["ratios"] == {"in_service": {1: "75%", 2: "70%", 3: "65%"}, "retired": {1: "85%", 2: "80%", 3: "75%"}}
    assert up["deductible"]["in_service"] == {1: "600.00", 2: "600.00", 3: "600.00"}
    assert (up["cost"], up["members_ahead"], up["members"], up["share_ahead"]) == ("9085.00", 2, 4, "0.5000")
    # 2 points down: 9005 - 32 = 8973.00
    down = to_json(tune(_tiny(), pre, base, book, 897_300, [F(1)], [F(1)]))["candidates"][0]
    assert (down["ratio_shift"], down["cost"]) == ("-2%", "8973.00")


# --- which versions ---------------------------------------------------------------------------------------------

def test_versions_for_defaults_to_the_newest_and_the_pre_reform(book, yangzhou):
    pre, base = yangzhou
    assert versions_for(book, "321000", None, None) == (base, pre)
    transition = book.policy_for("321000", date(2023, 6, 1))
    assert versions_for(book, "321000", date(2023, 6, 1), None) == (transition, pre)
    assert versions_for(book, "530000", None, "321000@2022-06-01") == (book.policy_for("530000", date(2025, 1, 1)),
                                                                         pre)


@pytest.mark.parametrize(("region", "on", "before", "error", "message"), [
    ("530000", None, None, VersionError, "--before: 云南省 530000 has no pre-reform version"),
    ("990100", None, None, VersionError, "--before: 测试市 990100 has no pre-reform version"),
    ("530000", None, "530000", VersionError, "--before '530000': give REGION@DATE"),
    ("530000", None, "321000@2021-06-01", VersionError, "--before 321000@2021-06-01: region 321000 has no policy"),
    ("321000", date(2021, 6, 1), None, VersionError, "--on 2021-06-01: region 321000 has no policy version"),
    ("321000", date(2022, 6, 1), None, SimulationError, "--region 321000: 改革前"),
    ("999999", None, None, VersionError, "--region 999999: unknown region '999999'"),
])
def test_versions_for_names_the_option(book, region, on, before, error, message):
    with pytest.raises(error) as err:
        versions_for(book, region, on, before)
    assert str(err.value).startswith(message), str(err.value)
