"""参保人员: search the registry (ID numbers masked), one person's record (the whole ID number, as the admin API
shows it), account, relations and authorizations, and a change of insured status (psn_insu_stas)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from gongji.errors import InputError
from gongji.services import account_use, audit_log, lookup, views
from gongji.services.records import RELATION_ZH, member_type_on
from gongji.web import auth
from gongji.web.render import page
from gongji.web.session import Session
from gongji.web.staff_common import (
    ACCOUNT_KINDS,
    ADMDVS,
    MEMBER_TYPES,
    PAGE_SIZE,
    STATUS_NAMES,
    engine_of,
    not_found,
    page_number,
    pager,
    parse_day,
    query,
    region_options,
)

router = APIRouter(include_in_schema=False)
STATUS_FIELDS = ("psn_insu_stas", "stas_reason", "stas_date")
"""what a status change changes, as the admin API logs it."""
MAX_REASON, MAX_HEIR = 20, 50
REASONS = {"死亡": account_use.DEATH}
"""the reason as staff may write it in Chinese -> the service's word."""


@router.get("/staff/persons")
def persons(request: Request) -> Response:
    auth.staff(request)
    engine = engine_of(request)
    values = {k: query(request, k) for k in ("name", "psn_no", "region", "status")}
    errors = {}
    if values["region"] and not ADMDVS.match(values["region"]):
        errors["region"] = "统筹区划代码为 6 位数字，例如 321000"
    if values["status"] and values["status"] not in STATUS_NAMES:
        errors["status"] = "参保状态只能是 1 正常参保、2 暂停、4 终止"
    number = page_number(request)
    rows: list[dict] = []
    total = 0
    if not errors:
        name, region, status = values["name"] or None, values["region"] or None, values["status"] or None
        if values["psn_no"]:
            found = lookup.person(engine, values["psn_no"])
            rows = [found] if found and (name is None or name in found["psn_name"]) and \
                (region is None or found["insuplc_admdvs"] == region) and \
                (status is None or found["psn_insu_stas"] == status) else []
            total = len(rows)
        else:
            total, rows = lookup.persons_page(engine, PAGE_SIZE, (number - 1) * PAGE_SIZE, region, name, status)
    today = date.today()
    for r in rows:
        r["member_type"] = MEMBER_TYPES[member_type_on(r["psn_type"], r["retire_date"], today)]
    return page(request, "s_persons.html.j2", status=422 if errors else 200, title="参保人员", rows=rows,
                pager=pager(request, total, number), values=values, errors=errors, statuses=STATUS_NAMES,
                region_options=region_options(request))


def _detail(request: Request, psn_no: str, me: Session, **context: object) -> Response:
    engine = engine_of(request)
    person = lookup.person(engine, psn_no)
    if person is None:
        return not_found(request, f"没有参保人员编号为 {psn_no} 的人员")
    account = views.account_view(engine, psn_no, limit=20)
    person["member_type"] = MEMBER_TYPES[member_type_on(person["psn_type"], person["retire_date"], date.today())]
    context.setdefault("values", {"psn_insu_stas": person["psn_insu_stas"], "stas_date": date.today().isoformat()})
    return page(request, "s_person.html.j2", title=f"参保人员 {person['psn_name']}", person=person,
                account=account, relations=lookup.relations_of(engine, person),
                authorizations=lookup.authorizations_of(engine, psn_no), statuses=STATUS_NAMES,
                movement_names=ACCOUNT_KINDS, relation_names=RELATION_ZH,
                may_change=me.role in auth.CHANGING_ROLES,
                changed=query(request, "changed") == "1", paid=query(request, "paid"), **context)


@router.get("/staff/persons/{psn_no}")
def person(request: Request, psn_no: str) -> Response:
    return _detail(request, psn_no, auth.staff(request))


def _status_errors(exc: InputError) -> dict[str, str]:
    """The service's refusal next to the form's field, in Chinese."""
    text = str(exc)
    field, _, detail = text.partition(":")
    if field == "status":
        return {"psn_insu_stas": "参保状态只能是 1 正常参保、2 暂停、4 终止"}
    if field == "reason":
        return {"reason": "原因为死亡（death）时，参保状态须为 4 终止"}
    if field == "heir":
        return {"heir": "原因为死亡时，账户余额支付给继承人：请填写继承人姓名"}
    if field == "date":
        insured = detail.rsplit("(", 1)[-1].rstrip(")")
        return {"stas_date": f"变更日期不能早于参保日期（{insured}）"}
    if field == "psn_no" and "closed" in detail:
        closed = detail.split("closed on ", 1)[-1].split(" ", 1)[0]
        return {"psn_insu_stas": f"该人员账户已于 {closed} 因死亡注销，不能再变更参保状态"}
    return {"psn_insu_stas": exc.zh or text}


@router.post("/staff/persons/{psn_no}/status")
async def change_status(request: Request, psn_no: str) -> Response:
    me = auth.staff(request, auth.CHANGING_ROLES)
    form = await auth.form_of(request)
    values = {k: str(form.get(k, "")).strip() for k in ("psn_insu_stas", "stas_date", "reason", "heir")}
    reason = REASONS.get(values["reason"], values["reason"])
    on = parse_day(values["stas_date"])
    errors = {}
    if values["psn_insu_stas"] not in STATUS_NAMES:
        errors["psn_insu_stas"] = "请选择参保状态：1 正常参保、2 暂停、4 终止"
    if on is None:
        errors["stas_date"] = "请按 2024-08-01 的格式填写变更日期"
    if len(reason) > MAX_REASON:
        errors["reason"] = f"原因最多 {MAX_REASON} 个字符"
    if len(values["heir"]) > MAX_HEIR:
        errors["heir"] = f"继承人姓名最多 {MAX_HEIR} 个字符"
    engine = engine_of(request)
    if not errors:
        def log(conn: Connection, before: dict) -> None:
            after = lookup.person_in(conn, psn_no)
            audit_log.record(conn, me.subject, "person.status", psn_no, {k: before[k] for k in STATUS_FIELDS},
                             {k: after[k] for k in STATUS_FIELDS} | ({"heir": values["heir"]} if values["heir"]
                                                                      else {}))

        try:
            paid = await run_in_threadpool(account_use.change_status, engine, psn_no, values["psn_insu_stas"], on,
                                           reason, values["heir"], log)
        except InputError as exc:
            if str(exc).startswith("psn_no:") and "not a registered person" in str(exc):
                return not_found(request, f"没有参保人员编号为 {psn_no} 的人员")
            errors = _status_errors(exc)
        else:
            return RedirectResponse(f"/staff/persons/{psn_no}?changed=1" + (f"&paid={paid}" if paid else ""), 303)
    response = await run_in_threadpool(_detail, request, psn_no, me, values=values, errors=errors)
    if response.status_code == 200:
        response.status_code = 422
    return response
