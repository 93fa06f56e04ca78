"""Anomaly scores worked by hand on small peer groups."""

from datetime import date

import polars as pl
import pytest

from gongji.monitor import anomaly
from gongji.monitor.batch import CLAIM_COLUMNS, LINE_COLUMNS


def _claims(rows: list[dict]) -> pl.DataFrame:
    base = {"seq": 0, "sex": "1", "birth_date": date(1980, 1, 1), "member_type": "in_service", "setting": "clinic",
            "level": 1, "designated": True, "med_type": "11", "diagnoses": [], "in_stay": False, "payer_psn_no": None,
            "rxno": None, "prescriber_code": None}
    return pl.DataFrame([base | r for r in rows], schema=CLAIM_COLUMNS)


def _five_clinics(dear_total: int) -> pl.DataFrame:
    """Five level-1 clinics, two claims each of two members in June; H5's claims cost `dear_total` fen."""
    rows = []
    for i, total in enumerate((10_000, 11_000, 12_000, 13_000, dear_total), start=1):
        for n in range(2):
            rows.append({"key": f"C{i}{n}", "psn_no": f"M{i}{n}", "fixmedins_code": f"H{i}", "on": date(2024, 6, 1),
                         "total": total, "fund_paid": total // 2})
    return _claims(rows)


def test_the_dear_clinic_is_explained_by_its_cost_per_visit():
    claims = _five_clinics(40_000)
    scores = anomaly.institutions(claims, pl.DataFrame(schema=LINE_COLUMNS)).frame
    top = scores.row(0, named=True)
    assert top["entity"] == "H5"
    # cost per visit 100, 110, 120, 130, 400 yuan: median 120; absolute deviations 20, 10, 0, 10, 280, their
    # median 10 yuan; z = 0.6745 x (400 - 120) / 10 = 18.886
    assert top["z_cost_per_visit"] == pytest.approx(0.6745 * 280 / 10)
    assert top["robust_score"] == pytest.approx(0.6745 * 28)
    assert top["reasons"].startswith("cost_per_visit=400.00 yuan (z 18.9)")
    # the cheapest (100 yuan) is below the median: the low side does not count
    assert scores.filter(pl.col("entity") == "H1")["z_cost_per_visit"].item() == 0
    # the model agrees which one is strangest
    assert scores.sort("model_score", descending=True)["entity"][0] == "H5"


def test_a_feature_all_alike_scores_nothing():
    claims = _five_clinics(10_000).with_columns(total=pl.lit(10_000, pl.Int64))
    scores = anomaly.institutions(claims, pl.DataFrame(schema=LINE_COLUMNS)).frame
    assert scores["z_cost_per_visit"].to_list() == [0.0] * 5


def test_the_mean_deviation_stands_in_for_a_mad_of_zero():
    # four clinics at 100 yuan, one at 200: the MAD is 0; the mean absolute deviation from the median 100 is
    # 100 / 5 = 20 yuan, x 1.2533 = 25.066; z = (200 - 100) / 25.066 = 3.989
    claims = _five_clinics(20_000).with_columns(
        total=pl.when(pl.col("fixmedins_code") == "H5").then(20_000).otherwise(10_000))
    scores = anomaly.institutions(claims, pl.DataFrame(schema=LINE_COLUMNS)).frame
    assert scores.filter(pl.col("entity") == "H5")["z_cost_per_visit"].item() == pytest.approx(100 / (20 * 1.2533))


def test_members_are_compared_within_their_type_and_age_band():
    rows = []
    for i in range(6):  # six members aged 44 in service, one visit each; M5 pays at year's end
        rows.append({"key": f"A{i}", "psn_no": f"M{i}", "fixmedins_code": "H1", "total": 10_000, "fund_paid": 5_000,
                     "on": date(2024, 12 if i == 5 else 6, 1)})
    # a retiree with ten visits is compared with no in-service member: alone in their group, nothing stands out
    rows += [{"key": f"R{n}", "psn_no": "R1", "fixmedins_code": "H1", "total": 10_000, "fund_paid": 5_000,
              "on": date(2024, 6, 1), "member_type": "retired", "birth_date": date(1950, 1, 1)} for n in range(10)]
    scores = anomaly.members(_claims(rows)).frame
    assert scores.filter(pl.col("entity") == "R1")["robust_score"].item() == 0
    m5 = scores.filter(pl.col("entity") == "M5").row(0, named=True)
    # year-end share 1 against 0 for the five others: MAD 0, mean deviation 1/6 x 1.2533; z = 1 / 0.20888 = 4.787
    assert m5["z_year_end_share"] == pytest.approx(1 / (1 / 6 * 1.2533))
    assert m5["peer"] == "in_service from 30" and m5["reasons"].startswith("year_end_share=1")


def test_an_account_paying_for_many_people_stands_out_among_accounts():
    # six account holders aged 44 in service, each paying one claim of their own; F1's account also pays one claim
    # each for five relatives (家庭共济). Among the members' own scores F1 is like the others; among accounts F1 has
    # 6 visits against 1: MAD 0, mean deviation of (6 - 1) / 6 from the median 1 -> z = 5 / (5/6 x 1.2533) = 4.787
    rows = [{"key": f"O{i}", "psn_no": f"F{i}", "fixmedins_code": "H1", "total": 10_000, "fund_paid": 5_000,
             "on": date(2024, 6, 1)} for i in range(1, 7)]
    rows += [{"key": f"R{i}", "psn_no": f"K{i}", "fixmedins_code": "H1", "total": 10_000, "fund_paid": 5_000,
              "on": date(2024, 6, 2), "payer_psn_no": "F1", "birth_date": date(1950, 1, 1),
              "member_type": "retired"} for i in range(5)]
    holders = pl.DataFrame([(f"F{i}", "1", date(1980, 1, 1), "in_service") for i in range(1, 7)],
                           schema={"psn_no": pl.String, "sex": pl.String, "birth_date": pl.Date,
                                   "member_type": pl.String}, orient="row")
    own = anomaly.members(_claims(rows)).frame
    assert own.filter(pl.col("entity") == "F1")["robust_score"].item() == 0
    accounts = anomaly.accounts(_claims(rows), holders).frame
    f1 = accounts.row(0, named=True)
    assert f1["entity"] == "F1"
    assert f1["z_visits"] == pytest.approx(5 / (5 / 6 * 1.2533))
    assert set(accounts["entity"]) == {f"F{i}" for i in range(1, 7)}
