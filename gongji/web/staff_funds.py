"""基金收支: a year's pooled fund and account flows by month (from the ledger, each kind net of its reversals),
the fund's payments by institution level and member type (from the standing settlements), the year's figures of
the KPI report, and the audit's verdict (every balance recomputed from the ledger)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gongji.errors import InputError
from gongji.services import kpi, staff_views
from gongji.services.audit import audit
from gongji.store.ledger import ACCOUNT, POOL
from gongji.web import auth
from gongji.web.render import page
from gongji.web.staff_common import ACCOUNT_KINDS, LEVELS, MEMBER_TYPES, engine_of, query, region_options

router = APIRouter(include_in_schema=False)
MONTHS = tuple(range(1, 13))
POOL_KINDS = {"contribution": "缴费收入", "deposit": "基金注入", "clawback": "违规追回",
              "credit_pool": "退休人员账户划入", "hifp_pay": "普通门诊统筹支付",
              "inpatient_pay": "超限额按住院待遇支付",
              "chronic_pay": "门诊慢特病支付"}
AUDIT_TOTALS = {"contributions_in": "缴费收入", "deposits_in": "基金注入", "clawed_back_in": "违规追回",
                "credits_individual": "个人缴费划入账户", "credits_employer": "单位缴费划入账户",
                "credits_from_pool": "统筹基金划入账户", "outpatient_fund_paid": "普通门诊统筹支付",
                "inpatient_benefit_paid": "超限额按住院待遇支付", "chronic_benefit_paid": "门诊慢特病支付",
                "account_paid_own": "账户支付本人就医", "account_paid_family": "账户家庭共济支付",
                "premiums_paid": "账户缴纳保费", "interest_credited": "账户利息", "inherited": "继承支付",
                "opening_balances": "账户期初余额", "pool_balance": "统筹基金余额",
                "account_balances": "个人账户余额合计"}


def _by_level(engine, year: int, admdvs: str | None) -> list[dict]:
    return [{"level": LEVELS.get(level, "未定级"), "member_type": MEMBER_TYPES.get(kind, kind), "count": int(n),
             "medfee": int(cost), "fund": int(paid), "account": int(acct), "cash": int(cash)}
            for level, kind, n, cost, paid, acct, cash in staff_views.fund_by_level(engine, year, admdvs)]


def _yuan(fen: int) -> float:
    """Yuan for a chart axis (the tables carry the exact amounts)."""
    return fen / 100


def _flow_chart(title: str, flows: dict[str, list[int]], names: dict[str, str]) -> dict:
    """A stacked bar chart of the monthly flows (in above the axis, out below) with the net as a line."""
    series = [{"name": names.get(kind, kind), "type": "bar", "stack": "flows", "data": [_yuan(v) for v in values]}
              for kind, values in flows.items()]
    net = [sum(values[i] for values in flows.values()) for i in range(12)]
    series.append({"name": "净额", "type": "line", "data": [_yuan(v) for v in net]})
    return {"title": {"text": title, "left": "center", "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis"}, "legend": {"bottom": 0, "type": "scroll"},
            "grid": {"left": 60, "right": 20, "top": 40, "bottom": 60},
            "xAxis": {"type": "category", "data": [f"{m}月" for m in MONTHS]},
            "yAxis": {"type": "value", "name": "元"}, "series": series}


def _level_chart(rows: list[dict]) -> dict:
    levels = list(dict.fromkeys(r["level"] for r in rows))
    kinds = list(dict.fromkeys(r["member_type"] for r in rows))
    found = {(r["level"], r["member_type"]): r["fund"] for r in rows}
    return {"title": {"text": "统筹基金支付：按机构等级和人员类别", "left": "center", "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis"}, "legend": {"bottom": 0},
            "grid": {"left": 60, "right": 20, "top": 40, "bottom": 50},
            "xAxis": {"type": "category", "data": levels}, "yAxis": {"type": "value", "name": "元"},
            "series": [{"name": k, "type": "bar", "data": [_yuan(found.get((level, k), 0)) for level in levels]}
                       for k in kinds]}


def _ordered(flows: dict[str, list[int]], names: dict[str, str]) -> dict[str, list[int]]:
    """The known kinds in their order, then any other kind the ledger holds."""
    return {k: flows[k] for k in [*names, *sorted(set(flows) - set(names))] if k in flows}


@router.get("/staff/funds")
def funds(request: Request) -> Response:
    auth.staff(request)
    engine = engine_of(request)
    values = {"year": query(request, "year") or str(staff_views.latest_year(engine)),
              "region": query(request, "region")}
    errors: dict[str, str] = {}
    try:
        year = kpi.parse_year(values["year"])
    except InputError:
        errors["year"] = "请填写 4 位年份，例如 2024"
    if values["region"] and values["region"] not in {code for code, _ in region_options(request)}:
        errors["region"] = "请从列表中选择统筹地区"
    report = audit(engine)
    context: dict = {"report": report, "audit_names": AUDIT_TOTALS, "regions": region_options(request)}
    if errors:
        return page(request, "s_funds.html.j2", status=422, title="基金收支", values=values, errors=errors,
                    figures=None, **context)
    admdvs = values["region"] or None
    pool = _ordered(staff_views.flows_by_month(engine, POOL, year, admdvs), POOL_KINDS)
    account = _ordered(staff_views.flows_by_month(engine, ACCOUNT, year, admdvs), ACCOUNT_KINDS)
    levels = _by_level(engine, year, admdvs)
    figures = kpi.year_kpi(engine, year, admdvs)
    totals = {code: t for code, t in sorted(report.totals.items()) if admdvs is None or code == admdvs}
    return page(request, "s_funds.html.j2", title="基金收支", values=values, year=year, figures=figures,
                pool=pool, account=account, levels=levels, pool_names=POOL_KINDS, account_names=ACCOUNT_KINDS,
                pool_chart=_flow_chart(f"{year} 年统筹基金收支（按月）", pool, POOL_KINDS),
                account_chart=_flow_chart(f"{year} 年个人账户收支（按月）", account, ACCOUNT_KINDS),
                level_chart=_level_chart(levels), totals=totals, months=MONTHS, **context)
