"""`gongji simulate`: a population's year under two policy versions, A and B, side by side.

Each version is applied to the whole year (a counterfactual: B as if it had been in force all year), with the
vectorized engines: `engine.vectorized` for outpatient pooling, `engine.credit_frame` for account credits and
contributions. What comes out:

* fund flows of each side: contributions in, what of them goes to accounts, the pool's payments (retirees'
  credits, outpatient reimbursement, cost above the outpatient cap paid under the inpatient benefit);
* the same by member type and age band (age on 1 July of the year);
* 资金平移 (the money swap): money no longer credited to accounts (credits A - B) against money paid as outpatient
  reimbursement (reimbursement B - A), and the difference;
* each member's net effect, (credit B - credit A) + (reimbursement B - reimbursement A): how many come out ahead
  or behind, by how much, in deciles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from gongji.engine.credit import EMPLOYER, INDIVIDUAL, POOL
from gongji.engine.credit_frame import annual_credits, needs_previous_year
from gongji.engine.dates import age_at
from gongji.engine.terms import compile_terms
from gongji.engine.vectorized import adjudicate_frame
from gongji.errors import InputError
from gongji.money import div_half_up, format_yuan
from gongji.policy.loader import PolicyBook, PolicyError, PolicyNotFound, load_region_file
from gongji.policy.schema import Version
from gongji.simulate import versions
from gongji.simulate.population import Population, engine_frame

SIDES = ("a", "b")
MID_YEAR = 701
"""1 July: the day a member's age band is taken on."""
AGE_BANDS = ((0, "<30"), (30, "30-39"), (40, "40-49"), (50, "50-59"), (60, "60-69"), (70, "70-79"), (80, "80+"))
DECILES = tuple(round(0.1 * i, 1) for i in range(1, 10))
OUTCOME_COLUMNS = ("credit", "credit_pool", "credit_contributed", "paid_in", "outpatient", "inpatient",
                   "reimbursed", "out_of_pocket")
"""per member and side: account credit (all, from the pool, from contributions), contributions paid in, the pool's
outpatient reimbursement (hifp_pay), its over-cap inpatient-benefit part, both, and the member's share of the
covered cost."""
Settle = Callable[[Version], pl.DataFrame]
"""version -> per member of the population: psn, visits, covered, hifp_pay, inpatient_pay (fen)."""


class SimulationError(InputError):
    """A scenario that cannot be run; the message names the option and the value."""


@dataclass(frozen=True)
class Scenario:
    spec: str
    """as given: REGION@DATE, with the policy file's name when it came from one."""
    version: Version

    @property
    def title(self) -> str:
        return f"{self.spec}: {self.version.title}"


def scenario(option: str, spec: str, book: PolicyBook, policy_file: Path | None = None) -> Scenario:
    """REGION@DATE from the book, or, with `policy_file`, from that region file (checked against the national
    floor as any region file)."""
    if policy_file is None:
        return Scenario(spec, versions.version_at(option, spec, book)[0])
    region, on = versions.parse_spec(option, spec)
    try:
        edited = load_region_file(policy_file)
    except PolicyError as exc:
        raise SimulationError(f"--policy-file {policy_file}: {exc}") from None
    if edited.admdvs != region:
        raise SimulationError(f"--policy-file {policy_file}: is region {edited.admdvs}, not {region} of {option}")
    version = edited.version_on(on)
    if version is None:
        raise SimulationError(f"{option} {spec}: {policy_file.name} has no version in force on {on}")
    return Scenario(f"{spec} ({policy_file.name})", version)


def settle_frame(version: Version, frame: pl.DataFrame) -> pl.DataFrame:
    """The visits of an engine frame settled under `version`, summed per member."""
    settled = adjudicate_frame(compile_terms(version), frame)
    return settled.group_by("psn").agg(visits=pl.len().cast(pl.Int64), covered=pl.col("covered").sum(),
                                       hifp_pay=pl.col("hifp_pay").sum(), inpatient_pay=pl.col("inpatient_pay").sum())


def polars_settler(pop: Population) -> Settle:
    """Settles `pop` on this machine with the Polars engine (the visits joined to the members once)."""
    frames: list[pl.DataFrame] = []

    def settle(version: Version) -> pl.DataFrame:
        if not frames:
            frames.append(engine_frame(pop))
        return settle_frame(version, frames[0])

    return settle


def previous_year_credits(pop: Population, book: PolicyBook) -> pl.DataFrame:
    """The members with `prev_year_credit` filled where empty: the credits of the year before under the region's
    versions of that year, month by month (for a transition rule that pays last year's credit / 12)."""
    missing = pop.members.filter(pl.col("prev_year_credit").is_null())
    if not missing.height:
        return pop.members
    year = pop.year - 1
    try:
        versions = [book.policy_for(pop.region, date(year, m, 1)) for m in range(1, 13)]
    except PolicyNotFound:
        raise SimulationError(f"members: prev_year_credit is empty for {missing.height} members and region "
                              f"{pop.region} has no policy for every month of {year} to compute it") from None
    credits = annual_credits(missing, year, lambda m: versions[m - 1])
    earned = credits.select("psn", prev=pl.sum_horizontal(INDIVIDUAL, EMPLOYER, POOL))
    return pop.members.join(earned, on="psn", how="left", maintain_order="left") \
        .with_columns(prev_year_credit=pl.coalesce("prev_year_credit", "prev")).drop("prev")


def _age_band(age: pl.Expr) -> pl.Expr:
    band = pl.lit(AGE_BANDS[0][1])
    for from_age, label in AGE_BANDS[1:]:
        band = pl.when(age >= from_age).then(pl.lit(label)).otherwise(band)
    return band


def member_outcomes(pop: Population, a: Version, b: Version, book: PolicyBook, settle: Settle | None = None,
                    advance: Callable[[str], None] = lambda step: None) -> pl.DataFrame:
    """One row per member: psn, retired, age (on 1 July), age_band, visits, covered, each OUTCOME_COLUMNS with
    the suffix _a or _b, and net (fen)."""
    members = pop.members
    if needs_previous_year(a) or needs_previous_year(b):
        members = previous_year_credits(pop, book)
    settle = settle or polars_settler(pop)
    advance("members")
    out = members.select("psn", "retired", age_at(pl.col("birth_date"), pop.year, MID_YEAR).alias("age"))
    out = out.with_columns(age_band=_age_band(pl.col("age")))
    for side, version in zip(SIDES, (a, b), strict=True):
        credits = annual_credits(members, pop.year, lambda _m, v=version: v)
        paid = settle(version)
        if side == "a":
            out = out.join(paid.select("psn", "visits", "covered"), on="psn", how="left", maintain_order="left")
        out = out.join(credits, on="psn", how="left", maintain_order="left") \
            .join(paid.select("psn", "hifp_pay", "inpatient_pay"), on="psn", how="left", maintain_order="left") \
            .with_columns(pl.col("visits", "covered", "hifp_pay", "inpatient_pay").fill_null(0))
        out = out.with_columns(**{
            f"credit_{side}": pl.col(INDIVIDUAL) + pl.col(EMPLOYER) + pl.col(POOL),
            f"credit_pool_{side}": pl.col(POOL),
            f"credit_contributed_{side}": pl.col(INDIVIDUAL) + pl.col(EMPLOYER),
            f"paid_in_{side}": pl.col("employer_paid") + pl.col("individual_paid"),
            f"outpatient_{side}": pl.col("hifp_pay"),
            f"inpatient_{side}": pl.col("inpatient_pay"),
            f"reimbursed_{side}": pl.col("hifp_pay") + pl.col("inpatient_pay"),
            f"out_of_pocket_{side}": pl.col("covered") - pl.col("hifp_pay") - pl.col("inpatient_pay"),
        }).drop(INDIVIDUAL, EMPLOYER, POOL, "employer_paid", "individual_paid", "hifp_pay", "inpatient_pay")
        advance(f"policy {side.upper()}")
    return out.with_columns(net=(pl.col("credit_b") - pl.col("credit_a"))
                            + (pl.col("reimbursed_b") - pl.col("reimbursed_a")))


FLOW_ROWS = (
    ("contributions", "缴费收入", "contributions in"),
    ("credited_from_contributions", "其中划入个人账户", "  credited to accounts"),
    ("pool_in", "其中划入统筹基金", "  to the pooled fund"),
    ("retiree_credits", "统筹基金划入退休人员账户", "retirees' credits from the pool"),
    ("outpatient", "普通门诊统筹支付", "outpatient reimbursement"),
    ("inpatient", "超限额按住院待遇支付", "  above the cap, inpatient benefit"),
    ("pool_out", "统筹基金支出", "pooled fund out"),
    ("pool_net", "统筹基金结余", "pooled fund balance"),
    ("credits", "个人账户计入", "account credits"),
    ("out_of_pocket", "个人负担", "members' out-of-pocket"),
)
"""(Flows attribute, Chinese, English) in the order reports show them."""


@dataclass(frozen=True)
class Flows:
    """A side's year, in fen. `contributions` and `pool_in` are None when the version states no contribution
    rates."""

    contributions: int | None
    credited_from_contributions: int
    pool_in: int | None
    retiree_credits: int
    outpatient: int
    inpatient: int
    credits: int
    out_of_pocket: int

    @property
    def pool_out(self) -> int:
        return self.retiree_credits + self.outpatient + self.inpatient

    @property
    def pool_net(self) -> int | None:
        return None if self.pool_in is None else self.pool_in - self.pool_out


@dataclass(frozen=True)
class Transfer:
    """资金平移: account credits moved out (A - B) against outpatient reimbursement added (B - A)."""

    moved_out_of_accounts: int
    reimbursement_added: int

    @property
    def difference(self) -> int:
        return self.reimbursement_added - self.moved_out_of_accounts


@dataclass(frozen=True)
class WhatIf:
    population: Population
    a: Scenario
    b: Scenario
    outcomes: pl.DataFrame

    def flows(self, side: str, where: pl.Expr | None = None) -> Flows:
        frame = self.outcomes if where is None else self.outcomes.filter(where)
        sums = frame.select(pl.col(f"{c}_{side}").sum() for c in OUTCOME_COLUMNS).row(0)
        total = dict(zip(OUTCOME_COLUMNS, (int(x or 0) for x in sums), strict=True))
        known = (self.a if side == "a" else self.b).version.contributions is not None
        return Flows(total["paid_in"] if known else None, total["credit_contributed"],
                     total["paid_in"] - total["credit_contributed"] if known else None, total["credit_pool"],
                     total["outpatient"], total["inpatient"], total["credit"], total["out_of_pocket"])

    def transfer(self, where: pl.Expr | None = None) -> Transfer:
        a, b = self.flows("a", where), self.flows("b", where)
        return Transfer(a.credits - b.credits, (b.outpatient + b.inpatient) - (a.outpatient + a.inpatient))

    def groups(self) -> pl.DataFrame:
        """By member type and age band: members, visits, covered, credits, reimbursement and out-of-pocket of
        each side, net effect in all and per member, members ahead and behind."""
        sums = [pl.col(f"{c}_{s}").sum() for s in SIDES for c in ("credit", "reimbursed", "out_of_pocket")]
        order = {label: i for i, (_age, label) in enumerate(AGE_BANDS)}
        return self.outcomes.group_by("retired", "age_band").agg(
            *sums, members=pl.len().cast(pl.Int64), visits=pl.col("visits").sum(), covered=pl.col("covered").sum(),
            net=pl.col("net").sum(), ahead=(pl.col("net") > 0).sum().cast(pl.Int64),
            behind=(pl.col("net") < 0).sum().cast(pl.Int64),
        ).with_columns(_order=pl.col("age_band").replace_strict(order, return_dtype=pl.Int32)) \
            .sort("retired", "_order").drop("_order")

    def effects(self, where: pl.Expr | None = None) -> dict:
        """How many members come out ahead, behind or even, the mean gain and loss, and the net effect's deciles
        (fen; the lower of two neighbouring members at a decile)."""
        net = (self.outcomes if where is None else self.outcomes.filter(where))["net"]
        ahead, behind = net.filter(net > 0), net.filter(net < 0)
        return {
            "members": net.len(), "ahead": ahead.len(), "behind": behind.len(), "even": int((net == 0).sum()),
            "mean_gain": mean_fen(int(ahead.sum()), ahead.len()),
            "mean_loss": mean_fen(int(behind.sum()), behind.len()),
            "deciles": {f"p{round(q * 100)}": int(net.quantile(q, "lower")) for q in DECILES} if net.len() else {},
            "min": int(net.min()) if net.len() else 0, "max": int(net.max()) if net.len() else 0,
        }


def mean_fen(total: int, count: int) -> int:
    """total / count in fen, half-up (away from zero); 0 for no members."""
    return div_half_up(total, count) if count else 0


def simulate(pop: Population, a: Scenario, b: Scenario, book: PolicyBook, settle: Settle | None = None,
             advance: Callable[[str], None] = lambda step: None) -> WhatIf:
    return WhatIf(pop, a, b, member_outcomes(pop, a.version, b.version, book, settle, advance))


def to_json(result: WhatIf) -> dict:
    """The run as JSON: amounts as yuan strings."""
    def flows(side: str, where: pl.Expr | None = None) -> dict:
        f = result.flows(side, where)
        shown = {name: getattr(f, name) for name, _zh, _en in FLOW_ROWS}
        return {k: None if v is None else format_yuan(v) for k, v in shown.items()}

    def transfer(where: pl.Expr | None = None) -> dict:
        t = result.transfer(where)
        return {"moved_out_of_accounts": format_yuan(t.moved_out_of_accounts),
                "reimbursement_added": format_yuan(t.reimbursement_added), "difference": format_yuan(t.difference)}

    def effects(where: pl.Expr | None = None) -> dict:
        e = result.effects(where)
        money = ("mean_gain", "mean_loss", "min", "max")
        return {k: format_yuan(v) if k in money else v for k, v in e.items() if k != "deciles"} | {
            "deciles": {k: format_yuan(v) for k, v in e["deciles"].items()}}

    types = {"in_service": ~pl.col("retired"), "retired": pl.col("retired")}
    groups = [{k: (format_yuan(v) if type(v) is int and k not in ("members", "visits", "ahead", "behind")
                   else v) for k, v in row.items()} | {"member_type": "retired" if row["retired"] else "in_service"}
              for row in result.groups().iter_rows(named=True)]
    pop = result.population
    return {
        "population": {"region": pop.region, "year": pop.year, "members": pop.members.height,
                       "visits": pop.visit_count},
        "a": result.a.title, "b": result.b.title,
        "flows": {side: flows(side) for side in SIDES},
        "transfer": transfer() | {"by_member_type": {t: transfer(w) for t, w in types.items()}},
        "effects": effects() | {"by_member_type": {t: effects(w) for t, w in types.items()}},
        "groups": groups,
    }
