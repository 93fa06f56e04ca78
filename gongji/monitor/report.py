"""`gongji monitor report --html`: the smart-monitoring report (智能监管报告) of a period and region as one
self-contained HTML page, with Apache ECharts embedded from the vendored file gongji/simulate/static/echarts.min.js
(no CDN: the page works offline).

Charts and tables: hits by rule (stacked by class 明确违规/可疑), hits by institution (the top 15), money at stake (by
rule, and pending against confirmed against clawed back), the queue's age (pending hits by days since found) and
the institutions with the highest anomaly scores with their reasons.

`summarise` turns the hits (grouped, as gongji.services.monitor_report reads them) and the anomaly scores into a
`MonitorReport` of figures; `render` turns that into the page. Both are pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gongji.money import format_grouped
from gongji.monitor.checkers import DEFINITE, SUSPICIOUS

HERE = Path(__file__).parent
ECHARTS = HERE.parent / "simulate" / "static" / "echarts.min.js"
"""the vendored ECharts the simulation page embeds too (one copy in the package)."""
NATIONAL_FILE = HERE / "national_rules.json"

PENDING, CONFIRMED, DISMISSED = "pending", "confirmed", "dismissed"
"""the hit statuses (gongji.services.monitor_queue.STATUSES)."""
STATUSES = (PENDING, CONFIRMED, DISMISSED)
CLASSES = (DEFINITE, SUSPICIOUS)
TOP_INSTITUTIONS = 15
TOP_SCORES = 10
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = ((0, 7, "0-7"), (8, 30, "8-30"), (31, 90, "31-90"),
                                                      (91, None, ">90"))
"""(from, to or None, label): a pending hit's age in whole days since it was found (found_at's day to `today`)."""

HIT_COLUMNS = {"rule": pl.String, "code": pl.String, "cls": pl.String, "fixmedins_code": pl.String,
               "status": pl.String, "found_on": pl.Date, "hits": pl.Int64, "amount": pl.Int64,
               "clawed_back": pl.Int64}
"""the hits `summarise` reads, grouped: `hits` of them with these values, `amount` at stake and `clawed_back` their
sums in fen."""

CLASS_LABELS = {DEFINITE: "明确违规 definite", SUSPICIOUS: "可疑 suspicious"}
STATUS_LABELS = {PENDING: "待审 pending", CONFIRMED: "已确认 confirmed", DISMISSED: "已驳回 dismissed"}
CLAWED_LABEL = "已追回 clawed back"


@dataclass(frozen=True)
class RuleRow:
    """The hits of one rule and class; amounts in fen."""

    rule: str
    cls: str
    national: str
    """the national rules (国家规则) the hits are instances of, by name."""
    hits: int
    amount: int
    """at stake, every status."""
    pending: int
    confirmed: int
    dismissed: int
    """at stake, by status."""
    clawed_back: int


@dataclass(frozen=True)
class InstitutionRow:
    code: str
    name: str
    hits: int
    definite: int
    suspicious: int
    amount: int
    clawed_back: int


@dataclass(frozen=True)
class StatusRow:
    status: str
    hits: int
    amount: int
    clawed_back: int


@dataclass(frozen=True)
class AgeRow:
    band: str
    hits: int
    amount: int


@dataclass(frozen=True)
class ScoreRow:
    entity: str
    name: str
    peer: str
    claims: int
    robust_score: float
    model_score: float
    reasons: str


@dataclass(frozen=True)
class MonitorReport:
    """The figures of the page; amounts in fen."""

    region: str
    date_from: date
    date_to: date
    today: date
    """the day the queue's age is counted to."""
    settlements: int
    """standing settlements of the period's members of the region."""
    hits: int
    amount: int
    by_rule: tuple[RuleRow, ...]
    """every (rule, class), the most hits first."""
    by_status: tuple[StatusRow, ...]
    """pending, confirmed, dismissed (each, even without hits)."""
    institutions: tuple[InstitutionRow, ...]
    """the TOP_INSTITUTIONS with the most hits."""
    institutions_with_hits: int
    queue_age: tuple[AgeRow, ...]
    """the pending hits in each of AGE_BANDS."""
    scores: tuple[ScoreRow, ...]
    """the TOP_SCORES institutions with the highest robust score."""
    scored: int
    """institutions scored."""

    @property
    def clawed_back(self) -> int:
        return sum(s.clawed_back for s in self.by_status)


@cache
def national_names() -> dict[str, str]:
    """National rule code -> its name in the rule base (a rule without a framework code is named by its name)."""
    rules = json.loads(NATIONAL_FILE.read_text(encoding="utf-8"))["rules"]
    return {r["code"]: r["name"] for r in rules if r.get("code")}


def _band(age: int) -> str:
    """The band of AGE_BANDS holding `age` days; a hit found after `today` (a clock set back) is the youngest."""
    for low, _high, label in reversed(AGE_BANDS):
        if age >= low:
            return label
    return AGE_BANDS[0][2]


def summarise(hits: pl.DataFrame, scores: pl.DataFrame, names: Mapping[str, str], *, region: str,
              date_from: date, date_to: date, today: date, settlements: int) -> MonitorReport:
    """The report's figures from the period's hits (HIT_COLUMNS, grouped) and the institutions' anomaly scores
    (gongji.monitor.anomaly.Scores.frame); `names` maps fixmedins_code to the institution's name."""
    hits = hits.select([pl.col(c).cast(t) for c, t in HIT_COLUMNS.items()])
    national = national_names()
    by_rule = []
    grouped = hits.group_by("rule", "cls").agg(
        codes=pl.col("code").unique().sort(), hits=pl.col("hits").sum(), amount=pl.col("amount").sum(),
        clawed_back=pl.col("clawed_back").sum(),
        **{status: pl.col("amount").filter(pl.col("status") == status).sum() for status in STATUSES})
    for r in grouped.sort(["hits", "amount", "rule", "cls"], descending=[True, True, False, False]).iter_rows(
            named=True):
        by_rule.append(RuleRow(r["rule"], r["cls"], "、".join(dict.fromkeys(national.get(c, c) for c in r["codes"])),
                               r["hits"], r["amount"], r[PENDING], r[CONFIRMED], r[DISMISSED], r["clawed_back"]))
    statuses = {r["status"]: r for r in hits.group_by("status").agg(
        pl.col("hits", "amount", "clawed_back").sum()).iter_rows(named=True)}
    by_status = tuple(StatusRow(s, statuses.get(s, {}).get("hits", 0), statuses.get(s, {}).get("amount", 0),
                                statuses.get(s, {}).get("clawed_back", 0)) for s in STATUSES)
    per_institution = hits.group_by("fixmedins_code").agg(
        hits=pl.col("hits").sum(), definite=pl.col("hits").filter(pl.col("cls") == DEFINITE).sum(),
        suspicious=pl.col("hits").filter(pl.col("cls") == SUSPICIOUS).sum(), amount=pl.col("amount").sum(),
        clawed_back=pl.col("clawed_back").sum()).sort(["hits", "amount", "fixmedins_code"],
                                                     descending=[True, True, False])
    institutions = tuple(InstitutionRow(r["fixmedins_code"], names.get(r["fixmedins_code"], ""), r["hits"],
                                        r["definite"], r["suspicious"], r["amount"], r["clawed_back"])
                         for r in per_institution.head(TOP_INSTITUTIONS).iter_rows(named=True))
    ages: dict[str, list[int]] = {label: [0, 0] for _low, _high, label in AGE_BANDS}
    for r in hits.filter(pl.col("status") == PENDING).iter_rows(named=True):
        band = ages[_band((today - r["found_on"]).days)]
        band[0] += r["hits"]
        band[1] += r["amount"]
    top = scores.sort(["robust_score", "model_score", "entity"], descending=[True, True, False]).head(TOP_SCORES)
    return MonitorReport(
        region=region, date_from=date_from, date_to=date_to, today=today, settlements=settlements,
        hits=int(hits["hits"].sum()), amount=int(hits["amount"].sum()), by_rule=tuple(by_rule),
        by_status=by_status, institutions=institutions, institutions_with_hits=per_institution.height,
        queue_age=tuple(AgeRow(label, *counts) for label, counts in ages.items()),
        scores=tuple(ScoreRow(r["entity"], names.get(r["entity"], ""), r["peer"], int(r["claims"]),
                              float(r["robust_score"]), float(r["model_score"]), r["reasons"] or "")
                     for r in top.iter_rows(named=True)),
        scored=scores.height)


# --- the page ---------------------------------------------------------------------------------------------------


def _yuan(fen: int) -> float:
    """Yuan for a chart axis (a float is fine for drawing; the tables carry the exact amounts)."""
    return fen / 100


def _count(n: int) -> str:
    return f"{n:,}"


def _rule_label(r: RuleRow) -> str:
    return f"{r.rule} {r.national}" if r.national else r.rule


def charts(report: MonitorReport) -> dict:
    """The charts' data: counts, and yuan as numbers."""
    rules: dict[str, dict] = {}
    for r in report.by_rule:
        row = rules.setdefault(r.rule, {"label": _rule_label(r), "hits": 0, DEFINITE: 0, SUSPICIOUS: 0,
                                        PENDING: 0, CONFIRMED: 0, DISMISSED: 0, "clawed_back": 0})
        row["hits"] += r.hits
        row[r.cls] += r.hits
        for status in STATUSES:
            row[status] += getattr(r, status)
        row["clawed_back"] += r.clawed_back
    ordered = sorted(rules.values(), key=lambda row: -row["hits"])
    status = {s.status: s for s in report.by_status}
    return {
        "classes": [CLASS_LABELS[c] for c in CLASSES],
        "rules": {"labels": [row["label"] for row in ordered],
                  "definite": [row[DEFINITE] for row in ordered], "suspicious": [row[SUSPICIOUS] for row in ordered]},
        "money": {"labels": [row["label"] for row in ordered],
                  "series": [STATUS_LABELS[s] for s in STATUSES] + [CLAWED_LABEL],
                  "pending": [_yuan(row[PENDING]) for row in ordered],
                  "confirmed": [_yuan(row[CONFIRMED]) for row in ordered],
                  "dismissed": [_yuan(row[DISMISSED]) for row in ordered],
                  "clawed_back": [_yuan(row["clawed_back"]) for row in ordered]},
        "status": {"labels": [STATUS_LABELS[PENDING], STATUS_LABELS[CONFIRMED], CLAWED_LABEL,
                              STATUS_LABELS[DISMISSED]],
                   "values": [_yuan(status[PENDING].amount), _yuan(status[CONFIRMED].amount),
                              _yuan(report.clawed_back), _yuan(status[DISMISSED].amount)]},
        "institutions": {"labels": [f"{i.code} {i.name}".strip() for i in report.institutions],
                         "definite": [i.definite for i in report.institutions],
                         "suspicious": [i.suspicious for i in report.institutions]},
        "age": {"labels": [a.band for a in report.queue_age], "hits": [a.hits for a in report.queue_age],
                "amount": [_yuan(a.amount) for a in report.queue_age]},
        "scores": {"labels": [f"{s.entity} {s.name}".strip() for s in report.scores],
                   "robust": [round(s.robust_score, 4) for s in report.scores],
                   "model": [round(s.model_score, 4) for s in report.scores]},
    }


def render(report: MonitorReport, generated: datetime | None = None) -> str:
    """The page: one HTML string with ECharts embedded."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "j2"]))
    money = format_grouped
    rules = [{"rule": r.rule, "national": r.national, "cls": r.cls, "hits": _count(r.hits), "amount": money(r.amount),
              "pending": money(r.pending), "confirmed": money(r.confirmed), "dismissed": money(r.dismissed),
              "clawed_back": money(r.clawed_back)} for r in report.by_rule]
    statuses = [{"label": STATUS_LABELS[s.status], "hits": _count(s.hits), "amount": money(s.amount),
                 "clawed_back": money(s.clawed_back) if s.status == CONFIRMED else "-"} for s in report.by_status]
    institutions = [{"code": i.code, "name": i.name, "hits": _count(i.hits), "definite": _count(i.definite),
                     "suspicious": _count(i.suspicious), "amount": money(i.amount),
                     "clawed_back": money(i.clawed_back)} for i in report.institutions]
    ages = [{"band": a.band, "hits": _count(a.hits), "amount": money(a.amount)} for a in report.queue_age]
    scores = [{"entity": s.entity, "name": s.name, "peer": s.peer, "claims": _count(s.claims),
               "robust": f"{s.robust_score:.2f}", "model": f"{s.model_score:.3f}", "reasons": s.reasons}
              for s in report.scores]
    return env.get_template("monitor.html.j2").render(
        title=f"{report.region} 智能监管报告 smart monitoring report, {report.date_from} .. {report.date_to}",
        report=report, settlements=_count(report.settlements), hits=_count(report.hits),
        amount=money(report.amount), clawed_back=money(report.clawed_back),
        institutions_with_hits=_count(report.institutions_with_hits), scored=_count(report.scored),
        rules=rules, statuses=statuses, institutions=institutions, ages=ages, scores=scores,
        top_institutions=TOP_INSTITUTIONS, top_scores=TOP_SCORES,
        charts=json.dumps(charts(report), ensure_ascii=False).replace("</", "<\\/"),  # no "</script>" inside
        generated=(generated or datetime.now()).strftime("%Y-%m-%d %H:%M"),
        echarts=ECHARTS.read_text(encoding="utf-8"))
