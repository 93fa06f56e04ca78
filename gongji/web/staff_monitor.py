"""监控疑点: the review queue of smart monitoring (status, rule and institution filters), a hit with its evidence,
its settlement's lines (the hit's line marked) and credit events, and the decision: confirm (the claw-back, the
member's cap room, the credit event) or dismiss, for the roles that change records. The reviewer is the signed-in
user; each decision writes an audit log row in its transaction, as the admin API does."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gongji.errors import InputError
from gongji.monitor.checkers import RULES
from gongji.monitor.coverage import load_coverage
from gongji.services import audit_log, monitor_queue
from gongji.services.monitor_queue import MAX_NOTES, UnknownHit
from gongji.store.db import transaction
from gongji.web import auth
from gongji.web.render import page
from gongji.web.session import Session
from gongji.web.staff_common import PAGE_SIZE, book_of, engine_of, not_found, page_number, pager, query, scaled

router = APIRouter(include_in_schema=False)
STATUS_NAMES = {"pending": "待审核", "confirmed": "已确认", "dismissed": "已排除", "all": "全部"}
MOMENTS = {"pre": "事中（结算时）", "post": "事后（批量）"}
ACTIONS = {"confirm": "monitor.confirm", "dismiss": "monitor.dismiss"}


@cache
def national_names() -> tuple[dict[str, str], dict[str, str]]:
    """(national rule code -> its name, checker -> the name of the first national rule it answers)."""
    by_code: dict[str, str] = {}
    by_checker: dict[str, str] = {}
    for rule in load_coverage():
        if rule.code:
            by_code[rule.code] = rule.name
        for name in rule.checkers:
            by_checker.setdefault(name, rule.name)
    return by_code, by_checker


def _rule_label(rule: str) -> str:
    name = national_names()[1].get(rule)
    return f"{rule}（{name}）" if name else rule


@router.get("/staff/monitor")
def hits(request: Request) -> Response:
    auth.staff(request)
    values = {"status": query(request, "status") or "pending", "rule": query(request, "rule"),
              "institution": query(request, "institution")}
    errors: dict[str, str] = {}
    if values["status"] not in STATUS_NAMES:
        errors["status"] = "请选择状态：待审核、已确认、已排除或全部"
    if values["rule"] and values["rule"] not in RULES:
        errors["rule"] = "请从列表中选择监控规则"
    number = page_number(request)
    total, rows = 0, []
    if not errors:
        status = None if values["status"] == "all" else values["status"]
        rule, institution = values["rule"] or None, values["institution"] or None
        with engine_of(request).connect() as conn:
            total = monitor_queue.queue_size(conn, status, rule, institution)
            rows = monitor_queue.queue(conn, status, rule, institution, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    return page(request, "s_monitor.html.j2", status=422 if errors else 200, title="监控疑点", rows=rows,
                values=values, errors=errors, pager=pager(request, total, number), statuses=STATUS_NAMES,
                rules=[(r, _rule_label(r)) for r in sorted(RULES)], code_names=national_names()[0])


def _hit_page(request: Request, hit_id: str, me: Session, status: int = 200, **context: object) -> Response:
    try:
        with engine_of(request).connect() as conn:
            view = monitor_queue.show(conn, hit_id)
    except UnknownHit:
        return not_found(request, f"审核队列中没有疑点 {hit_id}")
    for line in view["lines"]:
        line["pric_text"], line["cnt_text"] = scaled(line["pric"]), scaled(line["cnt"])
    return page(request, "s_hit.html.j2", status=status, title=f"疑点 {hit_id}", hit=view["hit"],
                s=view["settlement"], lines=view["lines"], evidence=view["evidence"], events=view["credit_events"],
                statuses=STATUS_NAMES, moments=MOMENTS, rule_label=_rule_label(view["hit"]["rule"]),
                code_name=national_names()[0].get(view["hit"]["code"], ""),
                may_decide=me.role in auth.CHANGING_ROLES and view["hit"]["status"] == monitor_queue.PENDING,
                decided=query(request, "decided") == "1", **context)


@router.get("/staff/monitor/{hit_id}")
def hit(request: Request, hit_id: str) -> Response:
    return _hit_page(request, hit_id, auth.staff(request))


def _decide(request: Request, hit_id: str, action: str, reviewer: str, notes: str | None) -> None:
    """Decide the hit and log the change (the hit before and after) in one transaction."""
    with transaction(engine_of(request)) as conn:
        before = monitor_queue.show(conn, hit_id)["hit"]
        if action == "confirm":
            after = monitor_queue.confirm_in(conn, book_of(request), hit_id, reviewer, notes)
        else:
            after = monitor_queue.dismiss_in(conn, hit_id, reviewer, notes)
        audit_log.record(conn, reviewer, ACTIONS[action], hit_id, before,
                         after["hit"] | {"credit_events": after["credit_events"]})


def _decision_errors(exc: InputError, action: str) -> dict[str, str]:
    field, _, detail = str(exc).partition(":")
    if field == "notes":
        return {f"{action}_notes": f"备注最多 {MAX_NOTES} 个字"}
    if field == "hit_id" and "already" in detail:
        return {"decision": "该疑点已有处理结果，只能处理待审核的疑点"}
    if field.startswith("region"):
        return {"decision": "该地区当前政策没有信用记录扣分规则（monitoring.credit），不能确认疑点"}
    return {"decision": exc.zh or str(exc)}


async def _decided(request: Request, hit_id: str, action: str) -> Response:
    me = auth.staff(request, auth.CHANGING_ROLES)
    form = await auth.form_of(request)
    name = f"{action}_notes"
    notes = str(form.get(name, "")).strip()
    if len(notes) > MAX_NOTES:
        errors = {name: f"备注最多 {MAX_NOTES} 个字"}
    else:
        try:
            await run_in_threadpool(_decide, request, hit_id, action, me.subject, notes or None)
        except UnknownHit:
            return not_found(request, f"审核队列中没有疑点 {hit_id}")
        except InputError as exc:
            errors = _decision_errors(exc, action)
        else:
            return RedirectResponse(f"/staff/monitor/{hit_id}?decided=1", status_code=303)
    return await run_in_threadpool(lambda: _hit_page(request, hit_id, me, 422, errors=errors, values={name: notes}))


@router.post("/staff/monitor/{hit_id}/confirm")
async def confirm(request: Request, hit_id: str) -> Response:
    return await _decided(request, hit_id, "confirm")


@router.post("/staff/monitor/{hit_id}/dismiss")
async def dismiss(request: Request, hit_id: str) -> Response:
    return await _decided(request, hit_id, "dismiss")
