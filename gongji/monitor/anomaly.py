"""Anomaly scores (异常评分): institutions against their peers (clinics of the same level; pharmacies) and members
against members of the same type and age band, on a period's claims.

Features (each "the higher, the stranger"):
* institutions: cost_per_visit, drug_share (drug lines' share of the billed lines), visits_per_member,
  fund_per_member, basket (lines per claim), year_end_share (share of the year's fund paid in its last months:
  "冲顶", buying up the allowance);
* members: visits, cost_per_visit, fund_paid, pharmacy_share, institutions (how many different ones),
  year_end_share; and the same over the claims as the paying accounts see them (`accounts`: a claim paid from a
  relative's account counts as the holder's), where an account paying for many people stands out.

Two scores per entity. The robust score: each feature's robust z against the peer group, 0.6745 x (x - median) /
MAD (median absolute deviation; where the MAD is 0, the mean absolute deviation x 1.2533 stands in, and a
feature all alike scores 0), only the high side counted; the score is the largest z. The model score:
scikit-learn's IsolationForest over the features' robust z of all entities, its anomaly score (higher is
stranger). Each entity's explanation names its features with the largest z, with their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.ensemble import IsolationForest

from gongji.engine.dates import age_at, month_day

MAD_SCALE = 0.6745
"""the normal distribution's quartile: makes a MAD comparable to a standard deviation."""
MEAN_AD_SCALE = 1.2533
"""sqrt(pi / 2): the same for the mean absolute deviation."""
INSTITUTION_FEATURES = ("cost_per_visit", "drug_share", "visits_per_member", "fund_per_member", "basket",
                        "year_end_share")
MEMBER_FEATURES = ("visits", "cost_per_visit", "fund_paid", "pharmacy_share", "institutions", "year_end_share")
AGE_BANDS = (0, 30, 45, 60, 70, 80)
EXPLAINED = 3
"""features named in an explanation."""
MONEY_FEATURES = frozenset({"cost_per_visit", "fund_per_member", "fund_paid"})
"""features in fen, shown in yuan."""


@dataclass(frozen=True)
class Scores:
    """One row per entity: its key, peer group, the features, robust_score, model_score, reasons."""

    frame: pl.DataFrame
    features: tuple[str, ...]


def _year_end(year_end_months: int) -> pl.Expr:
    return pl.col("on").dt.month() > 12 - year_end_months


def institution_features(claims: pl.DataFrame, lines: pl.DataFrame, year_end_months: int = 2) -> pl.DataFrame:
    drug = lines.group_by("key").agg(
        line_count=pl.len().cast(pl.Int64), line_amount=pl.col("amount").sum(),
        drug_amount=pl.col("amount").filter(pl.col("kind") == "drug").sum())
    c = claims.join(drug, on="key", how="left").with_columns(pl.col("line_count", "line_amount", "drug_amount")
                                                             .fill_null(0))
    return c.group_by("fixmedins_code").agg(
        # a pharmacy's claims carry the prescriber's level: pharmacies are one peer group
        peer=pl.when(pl.col("setting").first() == "pharmacy").then(pl.lit("pharmacy")).otherwise(
            pl.concat_str(pl.lit("clinic level "), pl.col("level").first().cast(pl.String))),
        claims=pl.len().cast(pl.Int64),
        cost_per_visit=pl.col("total").mean(),
        drug_share=pl.col("drug_amount").sum() / pl.max_horizontal(pl.col("line_amount").sum(), 1),
        visits_per_member=pl.len() / pl.col("psn_no").n_unique(),
        fund_per_member=pl.col("fund_paid").sum() / pl.col("psn_no").n_unique(),
        basket=pl.col("line_count").mean(),
        year_end_share=pl.col("fund_paid").filter(_year_end(year_end_months)).sum()
        / pl.max_horizontal(pl.col("fund_paid").sum(), 1),
    ).rename({"fixmedins_code": "entity"})


def member_features(claims: pl.DataFrame, year_end_months: int = 2) -> pl.DataFrame:
    first = claims.group_by("psn_no").agg(pl.col("birth_date").first(), pl.col("member_type").first(),
                                          on=pl.col("on").max())
    age = age_at(pl.col("birth_date"), pl.col("on").dt.year(), month_day(pl.col("on")))
    band = pl.lit(AGE_BANDS[0])
    for from_age in AGE_BANDS[1:]:
        band = pl.when(age >= from_age).then(pl.lit(from_age)).otherwise(band)
    peers = first.select("psn_no", peer=pl.concat_str(pl.col("member_type"), pl.lit(" from "), band.cast(pl.String)))
    features = claims.group_by("psn_no").agg(
        claims=pl.len().cast(pl.Int64),
        visits=pl.len().cast(pl.Float64),
        cost_per_visit=pl.col("total").mean(),
        fund_paid=pl.col("fund_paid").sum().cast(pl.Float64),
        pharmacy_share=(pl.col("setting") == "pharmacy").mean(),
        institutions=pl.col("fixmedins_code").n_unique().cast(pl.Float64),
        year_end_share=pl.col("fund_paid").filter(_year_end(year_end_months)).sum()
        / pl.max_horizontal(pl.col("fund_paid").sum(), 1),
    )
    return features.join(peers, on="psn_no").rename({"psn_no": "entity"})


def _robust_z(feature: str) -> pl.Expr:
    x = pl.col(feature).cast(pl.Float64)
    median = x.median().over("peer")
    mad = (x - median).abs().median().over("peer") / MAD_SCALE
    mean_ad = (x - median).abs().mean().over("peer") * MEAN_AD_SCALE
    spread = pl.when(mad > 0).then(mad).otherwise(mean_ad)
    return pl.when(spread > 0).then(((x - median) / spread).clip(lower_bound=0)).otherwise(0.0)


def _shown(feature: str, value: float) -> str:
    return f"{value / 100:.2f} yuan" if feature in MONEY_FEATURES else f"{value:.4g}"


def score(features: pl.DataFrame, names: Sequence[str], seed: int = 0) -> Scores:
    """Both scores and the explanations for `features` (entity, peer, the named feature columns)."""
    z = features.with_columns(*(_robust_z(f).alias(f"z_{f}") for f in names))
    zs = [f"z_{f}" for f in names]
    z = z.with_columns(robust_score=pl.max_horizontal(*zs))
    if z.height >= 2:
        model = IsolationForest(n_estimators=200, random_state=seed).fit(z.select(zs).to_numpy())
        model_score = -model.score_samples(z.select(zs).to_numpy())
    else:
        model_score = np.zeros(z.height)
    z = z.with_columns(model_score=pl.Series(model_score, dtype=pl.Float64))
    reasons = []
    for row in z.select(*names, *zs).iter_rows(named=True):
        top = sorted(names, key=lambda f: -row[f"z_{f}"])[:EXPLAINED]
        reasons.append("; ".join(f"{f}={_shown(f, row[f])} (z {row[f'z_{f}']:.1f})" for f in top if row[f"z_{f}"] > 0))
    return Scores(z.with_columns(reasons=pl.Series(reasons, dtype=pl.String)).sort("robust_score", descending=True),
                  tuple(names))


def account_claims(claims: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """The claims as the paying accounts see them: a claim paid from a relative's account (payer_psn_no, 家庭共济) is
    the account holder's (psn_no, sex, birth_date, member_type of the holder, from `members`)."""
    holder = members.select(payer_psn_no="psn_no", _sex="sex", _birth="birth_date", _type="member_type")
    paid = claims.join(holder, on="payer_psn_no", how="left")
    other = pl.col("payer_psn_no").is_not_null() & (pl.col("payer_psn_no") != pl.col("psn_no")) \
        & pl.col("_birth").is_not_null()
    return paid.with_columns(
        psn_no=pl.when(other).then("payer_psn_no").otherwise("psn_no"),
        sex=pl.when(other).then("_sex").otherwise("sex"),
        birth_date=pl.when(other).then("_birth").otherwise("birth_date"),
        member_type=pl.when(other).then("_type").otherwise("member_type"),
    ).drop("_sex", "_birth", "_type")


def institutions(claims: pl.DataFrame, lines: pl.DataFrame, year_end_months: int = 2) -> Scores:
    return score(institution_features(claims, lines, year_end_months), INSTITUTION_FEATURES)


def members(claims: pl.DataFrame, year_end_months: int = 2) -> Scores:
    return score(member_features(claims, year_end_months), MEMBER_FEATURES)


def accounts(claims: pl.DataFrame, members_: pl.DataFrame, year_end_months: int = 2) -> Scores:
    """Members scored on what their accounts paid (their own care and their relatives'): a member's own scores do
    not see an account that pays for many people. `members_`: psn_no, sex, birth_date, member_type."""
    return members(account_claims(claims, members_), year_end_months)
