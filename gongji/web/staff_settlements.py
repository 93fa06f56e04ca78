"""结算查询: settlements and reversals by person, institution and date (newest first), and one settlement's
breakdown under the national setlinfo names, its lines, the monitoring hits on it and its reversal trail (the
settlement it reverses or the reversal that undid it, and every settlement of the same visit)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gongji.money import format_percent
from gongji.services import lookup, staff_views
from gongji.services.settlement import setlinfo
from gongji.web import auth
from gongji.web.render import page
from gongji.web.staff_common import PAGE_SIZE, engine_of, not_found, page_number, pager, parse_day, query, scaled

router = APIRouter(include_in_schema=False)
MED_TYPES = {"11": "普通门诊", "14": "门诊慢特病", "41": "定点药店购药"}
HIT_STATUS = {"pending": "待审核", "confirmed": "已确认", "dismissed": "已排除"}


@router.get("/staff/settlements")
def search(request: Request) -> Response:
    auth.staff(request)
    engine = engine_of(request)
    values = {k: query(request, k) for k in ("psn_no", "institution", "from", "to")}
    errors: dict[str, str] = {}
    first, last = parse_day(values["from"]), parse_day(values["to"])
    for name, day in (("from", first), ("to", last)):
        if values[name] and day is None:
            errors[name] = "请按 2024-03-01 的格式填写日期"
    if first and last and first > last:
        errors["to"] = "截止日期不能早于起始日期"
    number = page_number(request)
    total, rows = 0, []
    if not errors:
        total, rows = lookup.settlements_page(engine, PAGE_SIZE, (number - 1) * PAGE_SIZE, values["psn_no"] or None,
                                              values["institution"] or None, first, last)
    people, places = staff_views.names(engine, {r["psn_no"] for r in rows}, {r["fixmedins_code"] for r in rows})
    for r in rows:
        r["fund_pay"] = r["hifp_pay"] + r["inpatient_pay"] + r["chronic_pay"]
    return page(request, "s_settlements.html.j2", status=422 if errors else 200, title="结算查询", rows=rows,
                values=values, errors=errors, pager=pager(request, total, number), people=people, places=places,
                med_types=MED_TYPES)


@router.get("/staff/settlements/{setl_id}")
def settlement(request: Request, setl_id: str) -> Response:
    auth.staff(request)
    engine = engine_of(request)
    found = lookup.settlement(engine, setl_id)
    if found is None:
        return not_found(request, f"没有结算编号为 {setl_id} 的结算")
    info = setlinfo(found)
    people, places = staff_views.names(engine, {info["psn_no"]}, {info["fixmedins_code"]})
    lines = [dict(line) | {"pric_text": scaled(line["pric"]), "cnt_text": scaled(line["cnt"])} for line in found.lines]
    for h in (hits := staff_views.hits_on(engine, setl_id)):
        h["status_name"] = HIT_STATUS.get(h["status"], h["status"])
    return page(request, "s_settlement.html.j2", title=f"结算 {setl_id}", s=info, row=found.row, lines=lines,
                trail=staff_views.settlement_trail(engine, info["mdtrt_id"]), hits=hits, people=people,
                places=places, med_types=MED_TYPES,
                item_names=staff_views.item_names(engine, {line["med_list_codg"] for line in lines}),
                pool_prop=format_percent(info["pool_prop_selfpay"]))
