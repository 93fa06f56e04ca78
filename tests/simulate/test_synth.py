"""`gongji synth`: the generated population meets its calibration (SPEC.md §7 and calibration.yaml), is valid
and is reproducible from its seed."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from gongji.engine.dates import age_on
from gongji.simulate.population import PopulationError, check
from gongji.simulate.synth import CALIBRATION, load_calibration, synthesize

YEAR = 2024
MEMBERS = 60_000
SEED = 20240701


@pytest.fixture(scope="module")
def pop():
    return synthesize(MEMBERS, "321000", YEAR, SEED)


@pytest.fixture(scope="module")
def visits(pop):
    """Every visit with its member's type."""
    return pop.visits.join(pop.members.select("psn", "retired"), on="psn", how="left")


@pytest.fixture(scope="module")
def cal():
    return load_calibration()


def _near(value: float, target: float, within: float) -> bool:
    return abs(value / target - 1) <= within


def test_retirees_visit_2_17_times_as_often(pop, visits):
    retirees = int(pop.members["retired"].sum())
    in_service = pop.members.height - retirees
    per_retiree = visits.filter(pl.col("retired")).height / retirees
    per_worker = visits.filter(~pl.col("retired")).height / in_service
    # SPEC.md §7: retirees visit 2.17 x as often
    assert _near(per_retiree / per_worker, 2.17, 0.03), per_retiree / per_worker


def test_retirees_cost_1_15_times_as_much_per_visit(visits):
    mean = visits.group_by("retired").agg(pl.col("covered").mean()).sort("retired")["covered"].to_list()
    # SPEC.md §7: retirees 1.15 x the cost per visit (mean covered cost per visit)
    assert _near(mean[1] / mean[0], 1.15, 0.03), mean


def test_most_visits_at_level_1_and_2(visits):
    share = visits.group_by("level").agg(pl.len() / visits.height).sort("level")
    levels, shares = share["level"].to_list(), share["len"].to_list()
    assert levels == [1, 2, 3]
    assert shares[0] + shares[1] >= 0.80, shares  # calibration: 55 % + 30 %
    assert shares[0] == max(shares), shares
    assert all(_near(s, t, 0.03) for s, t in zip(shares, (0.55, 0.30, 0.15), strict=True)), shares


def test_costs_are_heavy_tailed(visits):
    """Covered cost per visit is lognormal with sigma 1.1 (calibration.yaml). For a lognormal the share of the
    total carried by the top 1 % of values is 1 - Phi(z_0.99 - sigma) = 1 - Phi(2.326 - 1.1) = 1 - Phi(1.226)
    = 11.0 %; sigma 1.0 would give 9.2 %, an exponential distribution 5.6 %: at least 10 % says the tail is as
    heavy as calibrated. The 99th percentile is exp(2.326 x 1.1) = 12.9 x the median; the largest of ~750,000
    draws about exp(4.8 x 1.1) = 200 x the median, so more than 50 x leaves room for the draw."""
    cost = visits["covered"].sort(descending=True)
    top = cost.head(cost.len() // 100).sum()
    assert top / cost.sum() >= 0.10, top / cost.sum()
    assert cost.max() > 50 * cost.median()
    in_service = visits.filter(~pl.col("retired"))["covered"]  # one lognormal, without the retirees' 1.15 x
    assert _near(in_service.quantile(0.99) / in_service.median(), 12.9, 0.10)
    assert _near(in_service.median(), 7000, 0.03)  # the calibration's median of 70.00 yuan


def test_pharmacy_share_and_prescriptions(visits, cal):
    pharmacy = visits.filter(pl.col("pharmacy"))
    # SPEC.md §7: 29.62 million of 441 million settlements at pharmacies = 6.7 %
    assert abs(pharmacy.height / visits.height - cal.pharmacy.share) < 0.003
    assert abs(pharmacy["prescribed"].mean() - cal.pharmacy.prescribed) < 0.02
    assert visits.filter(~pl.col("pharmacy"))["prescribed"].all()  # clinic visits always count as prescribed


def test_visits_per_member_meet_the_calibration(pop, visits, cal):
    share_retired = pop.members["retired"].mean()
    # in service 9.5 a year, retirees 9.5 x 2.17: per member 9.5 x (1 + 1.17 x share of retirees)
    expected = cal.visits.in_service_per_year * (1 + (cal.visits.retiree_factor - 1) * share_retired)
    assert _near(visits.height / pop.members.height, expected, 0.03)
    # calibration.yaml: about 27 % retirees and about 12.5 visits per member
    assert 0.24 <= share_retired <= 0.31, share_retired
    assert _near(visits.height / pop.members.height, 12.5, 0.06)


def test_the_visit_counts_have_a_heavy_tail(visits):
    """Negative binomial with shape 1.2: variance mean + mean^2 / 1.2, far above a Poisson's (variance = mean)."""
    counts = visits.filter(~pl.col("retired")).group_by("psn").len()["len"]
    assert counts.var() > 3 * counts.mean()


def test_households_are_consistent(pop):
    m = pop.members
    assert set(m["relation"].unique()) == {"self", "spouse", "parent", "child"}
    heads = m.filter(pl.col("relation") == "self").select("household", head_retired="retired", head_sex="sex")
    assert heads["household"].is_unique().all()
    joined = m.join(heads, on="household", how="left")
    assert joined["head_retired"].null_count() == 0  # every household has a head
    spouses = joined.filter(pl.col("relation") == "spouse")
    assert spouses.height and (spouses["retired"] == spouses["head_retired"]).all()  # a couple of the same type
    assert (spouses["sex"] != spouses["head_sex"]).all()
    assert m.filter(pl.col("relation") == "parent")["retired"].all()
    assert not m.filter(pl.col("relation") == "child")["retired"].any()
    assert m.group_by("household").agg(pl.col("relation").eq("spouse").sum())["relation"].max() == 1
    assert m["psn"].to_list() == list(range(1, MEMBERS + 1))


def test_ages_bases_and_pensions_are_in_range(pop, cal):
    m = pop.members
    low, high = cal.ages.in_service
    on_new_year = [age_on(b, date(YEAR, 1, 1)) for b in m["birth_date"].to_list()]
    m = m.with_columns(age=pl.Series(on_new_year))
    working, retired = m.filter(~pl.col("retired")), m.filter(pl.col("retired"))
    assert working["age"].min() >= low and working["age"].max() <= high  # 22-59
    assert retired["age"].min() >= cal.ages.retired_from and retired["age"].max() <= 100
    base = cal.contribution_base
    assert working["contribution_base"].min() >= base.floor and working["contribution_base"].max() <= base.ceiling
    assert (working["pension"] == 0).all()
    assert (retired["contribution_base"] == 0).all() and (retired["pension"] > 0).all()
    # whole yuan, as bases and pensions are set
    assert (m["contribution_base"] % 100 == 0).all() and (m["pension"] % 100 == 0).all()
    assert set(m["sex"].unique()) == {"1", "2"}
    assert m["prev_year_credit"].null_count() == m.height


def test_visits_are_valid_for_the_year(pop):
    v = pop.visits
    assert (v["date"].dt.year() == YEAR).all()
    assert v["covered"].min() >= 0
    assert v.sort("psn", "date", maintain_order=True).equals(v)
    # what a check of an imported extract accepts
    checked = check(pop.members, v, pop.region, pop.year)
    assert checked.visits.equals(v)


def test_the_same_seed_gives_the_same_population():
    a, b = synthesize(3_000, "321000", YEAR, 5), synthesize(3_000, "321000", YEAR, 5)
    assert a.members.equals(b.members) and a.visits.equals(b.visits)
    c = synthesize(3_000, "321000", YEAR, 6)
    assert not c.members.equals(a.members)
    assert not c.visits.equals(a.visits)
    assert (a.meta["source"], a.meta["seed"], c.meta["seed"]) == ("synth", 5, 6)


def test_steps_are_reported():
    seen = []
    synthesize(10, "321000", YEAR, 1, advance=seen.append)
    assert seen == ["members", "visits"]


@pytest.mark.parametrize(("args", "field", "value"), [
    ((0, "321000", YEAR), "--members", "0"),
    ((-5, "321000", YEAR), "--members", "-5"),
    ((10, "32100", YEAR), "--region", "'32100'"),
    ((10, "32100a", YEAR), "--region", "'32100a'"),
    ((10, "321000", 20245), "--year", "20245"),
    ((10, "321000", 1800), "--year", "1800"),
])
def test_bad_arguments_name_the_option_and_value(args, field, value):
    with pytest.raises(PopulationError) as err:
        synthesize(*args, seed=1)
    assert str(err.value).startswith(f"{field}: {value} ")


def _calibration_with(tmp_path: Path, path: tuple[str, ...], value) -> Path:
    data = yaml.safe_load(CALIBRATION.read_text(encoding="utf-8"))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    out = tmp_path / "calibration.yaml"
    out.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return out


@pytest.mark.parametrize(("path", "value", "named"), [
    (("visits", "retiree_factor"), -1, "visits.retiree_factor"),
    (("cost", "sigma"), -0.5, "cost.sigma"),
    (("cost", "median"), "70.001", "cost.median"),
    (("pharmacy", "share"), 1.5, "pharmacy.share"),
    (("levels", "mix"), {1: 0.5, 2: 0.3, 3: 0.3}, "levels: mix"),
    (("households", "sizes"), {1: 0.5, 2: 0.4}, "households: sizes"),
    (("ages", "retired_from"), 30, "ages.retired_from"),
    (("visits", "per_year"), 9.5, "visits.per_year"),
])
def test_a_bad_calibration_file_names_the_field(tmp_path, path, value, named):
    bad = _calibration_with(tmp_path, path, value)
    with pytest.raises(PopulationError) as err:
        load_calibration(bad)
    message = str(err.value)
    assert message.startswith(f"--calibration {bad}: ") and named in message, message


def test_an_unreadable_calibration_file(tmp_path):
    with pytest.raises(PopulationError, match="--calibration .*nothing.yaml: cannot be read"):
        load_calibration(tmp_path / "nothing.yaml")


def test_a_calibration_changes_what_is_drawn(tmp_path):
    """A file with every visit at a pharmacy, always prescribed, at level 3."""
    path = _calibration_with(tmp_path, ("pharmacy", "share"), 1.0)
    cal = load_calibration(path).model_copy(deep=True)
    cal = cal.model_copy(update={"levels": cal.levels.model_copy(update={"mix": {1: 0.0, 2: 0.0, 3: 1.0}})})
    v = synthesize(500, "321000", YEAR, 2, cal).visits
    assert v.height and v["pharmacy"].all() and (v["level"] == 3).all()
