"""The monitoring report's figures and page on both backends, from a small period built through the real services.

Yangzhou 321000 from 2024 (gongji/policy/regions/321000.yaml): in service, deductible 600.00 a year, 70 % at level
1. The knowledge base: D01 is paid for women only (sex, 明确违规); D02 is reviewed for members of 50 and over
(elderly, 可疑). M1 (a man, 54) and W1 (a woman, 52), empty accounts, all at H1:

    S1 M1 2024-03-01  D01 700.00               sex 700.00; the pool pays (700.00 - 600.00) x 70 % = 70.00
    S2 W1 2024-03-02  D01 50.00                nothing
    S3 W1 2024-03-05  D02 30.00 x 2            elderly 60.00
    S4 M1 2024-03-10  D01 20.00, D02 15.00     sex 20.00, elderly 15.00
    S5 M1 2024-05-01  D01 50.00                sex 50.00 (after March)

`monitor run` over March to May queues the five hits; S1's is confirmed, which claws back the whole of S1's fund
payment (its one line is all of it): 70.00.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import polars as pl
import pytest
from sqlalchemy import update

from gongji.errors import InputError
from gongji.monitor import report
from gongji.monitor.checkers import DEFINITE, SUSPICIOUS
from gongji.services import monitor_queue, monitoring
from gongji.services.imports import import_csv
from gongji.services.knowledge_import import import_csv as import_knowledge
from gongji.services.monitor_report import gather
from gongji.services.settlement import parse_settle, settle
from gongji.store.db import transaction
from gongji.store.tables import monitor_hits
from tests.factories import csv_bytes, fen, person, snapshot
from tests.services.test_imports import CATALOGUE_COLUMNS, item
from tests.services.test_knowledge_import_db import kb_csv, row
from tests.services.test_settlement_db import H1, setup

MARCH = (date(2024, 3, 1), date(2024, 3, 31))
TODAY = date(2024, 6, 1)
REGION = "321000"


def _sale(engine, book, psn_no: str, on: str, *lines: tuple[str, str, str]) -> str:
    done = settle(engine, book, parse_settle({"psn_no": psn_no, "fixmedins_code": H1, "date": on, "lines": [
        {"med_list_codg": code, "pric": price, "cnt": count} for code, price, count in lines]}))
    return done.row["setl_id"]


def _found(engine, setl_id: str, rule: str, at: datetime) -> None:
    with transaction(engine) as conn:
        conn.execute(update(monitor_hits).where(monitor_hits.c.setl_id == setl_id, monitor_hits.c.rule == rule)
                     .values(found_at=at))


@pytest.fixture
def period(engine, book):
    setup(engine, book, [person("M1", date(1970, 1, 1), balc="0.00"),
                         person("W1", date(1972, 1, 1), gend="2", serial=2, balc="0.00")])
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("D01"), item("D02")]), book)
    import_knowledge(engine, kb_csv(row("D01", "sex", "2"), row("D02", "elderly", "50")))
    s = {"S1": _sale(engine, book, "M1", "2024-03-01", ("D01", "700", "1")),
         "S2": _sale(engine, book, "W1", "2024-03-02", ("D01", "50", "1")),
         "S3": _sale(engine, book, "W1", "2024-03-05", ("D02", "30", "2")),
         "S4": _sale(engine, book, "M1", "2024-03-10", ("D01", "20", "1"), ("D02", "15", "1")),
         "S5": _sale(engine, book, "M1", "2024-05-01", ("D01", "50", "1"))}
    # each settlement's own checks (事中) queued its findings; the batch over the period finds the same five
    run = monitoring.run(engine, book, date(2024, 3, 1), date(2024, 5, 31))
    assert (run.added, run.known) == (0, 5)  # see the docstring
    # the days the pending hits were found, counted to TODAY (2024-06-01): 7 days (the last of 0-7), 8 days (the
    # first of 8-30), 183 days (>90); the time of day does not count
    _found(engine, s["S4"], "sex", datetime(2024, 5, 25, 23, 59))
    _found(engine, s["S4"], "elderly", datetime(2024, 5, 24, 0, 1))
    _found(engine, s["S3"], "elderly", datetime(2023, 12, 1, 12, 0))
    with engine.connect() as conn:
        [hit] = [h for h in monitor_queue.queue(conn) if h["setl_id"] == s["S1"]]
    confirmed = monitor_queue.confirm(engine, book, hit["hit_id"], "审核员", on=TODAY)
    assert confirmed["hit"]["clawed_back"] == fen("70.00")  # the docstring
    return s


def test_the_figures_of_the_period(engine, book, period):
    before = snapshot(engine)
    got = gather(engine, book, *MARCH, REGION, today=TODAY)
    assert snapshot(engine) == before  # the report only reads
    # S1..S4 are March's settlements; S5's hit is after March
    assert (got.settlements, got.hits) == (4, 4)
    # at stake: 700.00 + 60.00 + 20.00 + 15.00
    assert got.amount == fen("795.00")
    by_rule = {(r.rule, r.cls): r for r in got.by_rule}
    assert set(by_rule) == {("sex", DEFINITE), ("elderly", SUSPICIOUS)}
    sex, elderly = by_rule["sex", DEFINITE], by_rule["elderly", SUSPICIOUS]
    # sex: S1 (700.00, confirmed, 70.00 clawed back) and S4 (20.00, pending)
    assert (sex.hits, sex.amount, sex.pending, sex.confirmed, sex.dismissed, sex.clawed_back) == \
        (2, fen("720.00"), fen("20.00"), fen("700.00"), 0, fen("70.00"))
    # elderly: S3 (60.00) and S4 (15.00), both pending
    assert (elderly.hits, elderly.amount, elderly.pending, elderly.confirmed, elderly.clawed_back) == \
        (2, fen("75.00"), fen("75.00"), 0, 0)
    # the national rules of the drugs' hits (national_rules.json: GZ10000301004000, GZ10000301009000)
    assert (sex.national, elderly.national) == ("药品区分性别使用", "老年人用药安全")
    # the split: three pending (20.00 + 60.00 + 15.00), one confirmed (700.00, 70.00 back), none dismissed
    assert [(s.status, s.hits, s.amount, s.clawed_back) for s in got.by_status] == [
        ("pending", 3, fen("95.00"), 0), ("confirmed", 1, fen("700.00"), fen("70.00")), ("dismissed", 0, 0, 0)]
    assert got.clawed_back == fen("70.00")
    # the queue's age (the fixture's found_at): S4 sex 7 days, S4 elderly 8 days, S3 elderly 183 days
    assert [(a.band, a.hits, a.amount) for a in got.queue_age] == [
        ("0-7", 1, fen("20.00")), ("8-30", 1, fen("15.00")), ("31-90", 0, 0), (">90", 1, fen("60.00"))]
    # one institution: H1 with two hits of each class
    assert [(i.code, i.name, i.hits, i.definite, i.suspicious, i.amount, i.clawed_back) for i in got.institutions] \
        == [(H1, f"机构{H1}", 4, 2, 2, fen("795.00"), fen("70.00"))]
    assert [(s.entity, s.name, s.claims) for s in got.scores] == [(H1, f"机构{H1}", 4)]


def test_the_region_and_the_period_select_the_hits(engine, book, period):
    # 990100 (the test region) has no members here
    other = gather(engine, book, *MARCH, "990100", today=TODAY)
    assert (other.settlements, other.hits, other.amount, other.scores) == (0, 0, 0, ())
    assert [a.hits for a in other.queue_age] == [0, 0, 0, 0]
    # May alone: S5's sex hit, 50.00, pending, found when the fixture ran the rules (today, in 0-7 of today)
    may = gather(engine, book, date(2024, 5, 1), date(2024, 5, 31), REGION)
    assert [(r.rule, r.hits, r.pending) for r in may.by_rule] == [("sex", 1, fen("50.00"))]
    assert [a.hits for a in may.queue_age] == [1, 0, 0, 0]


def test_bad_periods_and_regions_are_refused(engine, book, period):
    with pytest.raises(InputError, match="--to: 2024-03-01 is before --from 2024-03-31"):
        gather(engine, book, date(2024, 3, 31), date(2024, 3, 1), REGION)
    with pytest.raises(InputError, match="--region 999999"):
        gather(engine, book, *MARCH, "999999")


def chart_data(page: str) -> dict:
    return json.loads(re.search(r"const data = (\{.*?\});\n", page).group(1))


def test_the_page_embeds_echarts_and_holds_the_figures(engine, book, period):
    page = report.render(gather(engine, book, *MARCH, REGION, today=TODAY))
    # ECharts is embedded from the vendored file, not fetched: nothing is loaded from anywhere
    assert "echarts.init" in page and "Apache Software Foundation" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)
    # the figures of test_the_figures_of_the_period, in yuan with separators
    assert "795.00" in page and "720.00" in page and "70.00" in page and "95.00" in page
    assert "明确违规" in page and "可疑" in page and f"机构{H1}" in page
    data = chart_data(page)
    # rules by class: sex 2 definite, elderly 2 suspicious
    rules = dict(zip(data["rules"]["labels"], zip(data["rules"]["definite"], data["rules"]["suspicious"],
                                                   strict=True), strict=True))
    assert rules == {"sex 药品区分性别使用": (2, 0), "elderly 老年人用药安全": (0, 2)}
    # money: pending 95.00, confirmed 700.00, clawed back 70.00, dismissed 0
    assert data["status"]["values"] == [95, 700, 70, 0]
    assert (data["age"]["hits"], data["age"]["amount"]) == ([1, 1, 0, 1], [20, 15, 0, 60])
    assert data["institutions"]["definite"] == [2] and data["institutions"]["suspicious"] == [2]
    assert data["scores"]["labels"] == [f"{H1} 机构{H1}"]


def test_thousands_are_separated():
    # a report of figures alone (no database): 1,234,567.89 yuan at stake in 12,345 hits
    hits = pl.DataFrame([("sex", "GZ10000301004000", DEFINITE, H1, "pending", date(2024, 5, 1), 12_345,
                                 123_456_789, 0)], schema=report.HIT_COLUMNS, orient="row")
    scores = pl.DataFrame(schema={"entity": pl.String, "peer": pl.String,
                                         "claims": pl.Int64, "robust_score": pl.Float64,
                                         "model_score": pl.Float64, "reasons": pl.String})
    figures = report.summarise(hits, scores, {}, region=REGION, date_from=MARCH[0], date_to=MARCH[1],
                               today=TODAY, settlements=1_000_000)
    page = report.render(figures)
    assert "1,234,567.89" in page and "12,345" in page and "1,000,000" in page
    # 31 days from 2024-05-01 to 2024-06-01: the 31-90 band
    assert [a.hits for a in figures.queue_age] == [0, 0, 12_345, 0]


def test_the_top_institutions_by_hits_and_by_score():
    # 16 institutions I01..I16 with 1..16 hits: the top 15 leave out I01, the most hits first
    hits = pl.DataFrame([("sex", "GZ10000301004000", DEFINITE, f"I{n:02d}", "pending", TODAY, n, n * 100, 0)
                         for n in range(1, 17)], schema=report.HIT_COLUMNS, orient="row")
    # 11 scored institutions with robust scores 0..10: the top 10 leave out I00
    scores = pl.DataFrame({"entity": [f"I{n:02d}" for n in range(11)], "peer": ["clinic level 1"] * 11,
                           "claims": [1] * 11, "robust_score": [float(n) for n in range(11)],
                           "model_score": [0.5] * 11, "reasons": [""] * 11})
    figures = report.summarise(hits, scores, {}, region=REGION, date_from=MARCH[0], date_to=MARCH[1],
                               today=TODAY, settlements=16)
    assert [i.code for i in figures.institutions] == [f"I{n:02d}" for n in range(16, 1, -1)]
    assert figures.institutions_with_hits == 16
    assert [s.entity for s in figures.scores] == [f"I{n:02d}" for n in range(10, 0, -1)] and figures.scored == 11
