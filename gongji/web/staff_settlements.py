"""结算查询: settlements and reversals by person, institution and date (newest first), and one settlement's
breakdown under the national setlinfo names, its lines, the monitoring hits on it and its reversal trail (the
settlement it reverses or the reversal that undid it, and every settlement of the same visit)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Engine, select

from gongji.money import format_percent
from gongji.services import lookup
from gongji.services.settlement import setlinfo
from gongji.store.tables import catalogue, institutions, monitor_hits, persons, settlements
from gongji.web import auth
from gongji.web.render import page
from gongji.web.staff_common import PAGE_SIZE, engine_of, not_found, page_number, pager, parse_day, query, scaled

router = APIRouter(include_in_schema=False)
MED_TYPES = {"11": "普通门诊", "14": "门诊慢特病", "41": "定点药店购药"}
HIT_STATUS = {"pending": "待审核", "confirmed": "已确认", "dismissed": "已排除"}


def _names(engine: Engine, psn_nos: set[str], codes: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Names of the persons and institutions on a page."""
    with engine.connect() as conn:
        people = dict(conn.execute(select(persons.c.psn_no, persons.c.psn_name)
                                   .where(persons.c.psn_no.in_(sorted(psn_nos)))).all()) if psn_nos else {}
        places = dict(conn.execute(select(institutions.c.fixmedins_code, institutions.c.fixmedins_name)
                                   .where(institutions.c.fixmedins_code.in_(sorted(codes)))).all()) if codes else {}
    return people, places


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
    people, places = _names(engine, {r["psn_no"] for r in rows}, {r["fixmedins_code"] for r in rows})
    for r in rows:
        r["fund_pay"] = r["hifp_pay"] + r["inpatient_pay"] + r["chronic_pay"]
    return page(request, "s_settlements.html.j2", status=422 if errors else 200, title="结算查询", rows=rows,
                values=values, errors=errors, pager=pager(request, total, number), people=people, places=places,
                med_types=MED_TYPES)


def _trail(engine: Engine, mdtrt_id: str) -> list[dict]:
    """Every settlement and reversal of the visit, in the order made."""
    s = settlements.c
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(s.setl_id, s.setl_date, s.setl_time, s.medfee_sumamt, s.hifp_pay, s.inpatient_pay, s.chronic_pay,
                   s.acct_pay, s.psn_cash_pay, s.reverses, s.reversed_by)
            .where(s.mdtrt_id == mdtrt_id).order_by(s.id)).mappings()]


def _hits(engine: Engine, setl_id: str) -> list[dict]:
    h = monitor_hits.c
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(h.hit_id, h.rule, h.code, h.cls, h.line, h.amount, h.status, h.clawed_back)
            .where(h.setl_id == setl_id).order_by(h.found_at, h.hit_id)).mappings()]


def _item_names(engine: Engine, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    with engine.connect() as conn:
        return dict(conn.execute(select(catalogue.c.med_list_codg, catalogue.c.med_list_name)
                                 .where(catalogue.c.med_list_codg.in_(sorted(codes)))).all())


@router.get("/staff/settlements/{setl_id}")
def settlement(request: Request, setl_id: str) -> Response:
    auth.staff(request)
    engine = engine_of(request)
    found = lookup.settlement(engine, setl_id)
    if found is None:
        return not_found(request, f"没有结算编号为 {setl_id} 的结算")
    info = setlinfo(found)
    people, places = _names(engine, {info["psn_no"]}, {info["fixmedins_code"]})
    lines = [dict(line) | {"pric_text": scaled(line["pric"]), "cnt_text": scaled(line["cnt"])} for line in found.lines]
    for h in (hits := _hits(engine, setl_id)):
        h["status_name"] = HIT_STATUS.get(h["status"], h["status"])
    return page(request, "s_settlement.html.j2", title=f"结算 {setl_id}", s=info, row=found.row, lines=lines,
                trail=_trail(engine, info["mdtrt_id"]), hits=hits, people=people, places=places,
                item_names=_item_names(engine, {line["med_list_codg"] for line in lines}), med_types=MED_TYPES,
                pool_prop=format_percent(info["pool_prop_selfpay"]))
