"""`gongji report simulate --html`: a what-if run (and a tuning run) as one self-contained HTML page, with Apache
ECharts embedded from the vendored file (static/echarts.min.js; no CDN, the page works offline).

Charts: fund flows of A and B, the distribution of members' net effects by member type, and the tuning frontier
(cost against the share of members ahead). Tables give the same figures in yuan.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gongji.money import format_grouped, format_share
from gongji.policy.values import MEMBER_TYPES
from gongji.simulate.tune import Tuning
from gongji.simulate.whatif import FLOW_ROWS, SIDES, WhatIf

HERE = Path(__file__).parent
BINS = 40
FLOW_BARS = ("contributions", "pool_in", "credits", "retiree_credits", "outpatient", "inpatient", "out_of_pocket")
"""the flows the chart draws (FLOW_ROWS has them all)."""


def _number(fen: int | None) -> float | None:
    """Yuan for a chart axis (a float is fine for drawing; the tables carry the exact amounts)."""
    return None if fen is None else fen / 100


def histogram(result: WhatIf) -> dict:
    """Members per net-effect bin, in service and retired: BINS bins of whole yuan between the 1st and 99th
    percentile, the tails counted in the end bins."""
    net = result.outcomes.select("retired", "net")
    low = int(net["net"].quantile(0.01, "lower") or 0) // 100
    high = int(net["net"].quantile(0.99, "higher") or 0) // 100 + 1
    width = max(1, -(-(high - low) // BINS))
    binned = net.with_columns(bin=((pl.col("net") // 100 - low) // width).clip(0, BINS - 1))
    counts = binned.group_by("retired", "bin").len()
    series = {}
    for retired in (False, True):
        by_bin = dict(counts.filter(pl.col("retired") == retired).select("bin", "len").iter_rows())
        series["retired" if retired else "in_service"] = [int(by_bin.get(i, 0)) for i in range(BINS)]
    labels = [f"{low + i * width}" for i in range(BINS)]
    return {"labels": labels, "width": width, **series}


def render(result: WhatIf, tuning: Tuning | None = None) -> str:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "j2"]))
    flows = {side: result.flows(side) for side in SIDES}
    labels = {name: f"{zh} {en.strip()}" for name, zh, en in FLOW_ROWS}
    flow_rows = []
    for name in labels:
        a, b = getattr(flows["a"], name), getattr(flows["b"], name)
        flow_rows.append({"label": labels[name], "a": format_grouped(a), "b": format_grouped(b),
                          "change": format_grouped(None if a is None or b is None else b - a)})
    types = (("全体 all", None), ("在职 in service", ~pl.col("retired")), ("退休 retired", pl.col("retired")))
    effects = []
    for label, where in types:
        e = result.effects(where)
        n = e["members"]
        effects.append({"label": label, "members": f"{n:,}", "ahead": format_share(e["ahead"], n),
                        "behind": format_share(e["behind"], n), "even": format_share(e["even"], n),
                        "mean_gain": format_grouped(e["mean_gain"]), "mean_loss": format_grouped(e["mean_loss"]),
                        "deciles": [format_grouped(v) for v in e["deciles"].values()]})
    transfer = []
    for label, where in types:
        t = result.transfer(where)
        transfer.append({"label": label, "moved": format_grouped(t.moved_out_of_accounts),
                         "added": format_grouped(t.reimbursement_added), "difference": format_grouped(t.difference)})
    groups = [{"type": "退休 retired" if g["retired"] else "在职 in service", "band": g["age_band"],
               "members": f"{g['members']:,}", "visits": f"{g['visits']:,}",
               **{k: format_grouped(g[k]) for k in ("credit_a", "credit_b", "reimbursed_a", "reimbursed_b")},
               "ahead": format_share(g["ahead"], g["members"]), "behind": format_share(g["behind"], g["members"])}
              for g in result.groups().iter_rows(named=True)]
    charts = {
        "flows": {"labels": [labels[name] for name in FLOW_BARS],
                  **{side: [_number(getattr(flows[side], name)) for name in FLOW_BARS] for side in SIDES}},
        "net": histogram(result),
    }
    candidates = []
    if tuning is not None:
        frontier = {id(c) for c in tuning.frontier}
        for c in tuning.candidates:
            op = c.version.outpatient
            candidates.append({
                "frontier": id(c) in frontier, "cost": format_grouped(c.cost), "cost_yuan": _number(c.cost),
                "share": round(float(c.share_ahead) * 100, 2),
                "deductible": " / ".join(format_grouped(op.deductible.amount(t, 1)) for t in MEMBER_TYPES),
                "ratios": " ".join(f"{op.ratios.in_service[lv] / 100:g}%" for lv in (1, 2, 3)) + " / "
                + " ".join(f"{op.ratios.retired[lv] / 100:g}%" for lv in (1, 2, 3)),
                "cap": f"{format_grouped(op.cap.in_service)} / {format_grouped(op.cap.retired)}"})
        charts["frontier"] = {"budget": _number(tuning.budget),
                              "points": [[c["cost_yuan"], c["share"], c["frontier"]] for c in candidates]}
    pop = result.population
    return env.get_template("simulate.html.j2").render(
        title=f"{pop.region} {pop.year} 政策测算 policy simulation", pop=pop,
        members=f"{pop.members.height:,}", visits=f"{pop.visit_count:,}", a=result.a.title, b=result.b.title,
        flows=flow_rows,
        transfer=transfer, effects=effects, groups=groups, tuning=tuning, candidates=candidates,
        budget=format_grouped(tuning.budget if tuning else None),
        moved=format_grouped(tuning.transfer if tuning else None),
        charts=json.dumps(charts, ensure_ascii=False), generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
        echarts=(HERE / "static" / "echarts.min.js").read_text(encoding="utf-8"))
