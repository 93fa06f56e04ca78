"""月度划账: the batch runs made (crediting and interest), and a month credited on request, in a background thread
whose progress the page polls (htmx, every second). Progress is kept in the memory of the process that runs it;
a poll another worker process (`gongji serve --workers N`) answers is read from the runs stored (batch_runs):
finished once every region's run is there, else still running."""

from __future__ import annotations

import logging
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from gongji.errors import InputError
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services import audit_log, crediting, lookup
from gongji.web import auth
from gongji.web.render import page
from gongji.web.staff_common import book_of, engine_of, page_number, pager, query, region_options

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
KEPT = 50
"""finished runs whose progress is remembered (the oldest finished are forgotten first)."""
RUN_KINDS = {crediting.CREDIT_RUN: "月度划账", "interest": "年度计息"}


@dataclass
class Progress:
    """A crediting run started from the page: how far it is, and what each region got."""

    token: str
    month: str
    regions: list[str]
    total: int
    """members to credit (as counted before the run)."""
    by: str
    done: int = 0
    current: str = ""
    finished: bool = False
    results: list[dict] = field(default_factory=list)
    failure: str | None = None

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0


_runs: dict[str, Progress] = {}
_lock = threading.Lock()


def _remember(progress: Progress) -> None:
    with _lock:
        finished = [t for t, p in _runs.items() if p.finished]
        for token in finished[: max(0, len(finished) - KEPT + 1)]:
            del _runs[token]
        _runs[progress.token] = progress


def _progress(token: str) -> Progress | None:
    with _lock:
        return _runs.get(token)


def _runs_page(request: Request) -> dict:
    number = page_number(request)
    total, rows = lookup.batch_runs_page(engine_of(request), 20, (number - 1) * 20)
    return {"runs": rows, "runs_pager": pager(request, total, number), "run_kinds": RUN_KINDS}


@router.get("/staff/crediting")
def runs(request: Request) -> Response:
    me = auth.staff(request)
    token = query(request, "run")
    return page(request, "s_crediting.html.j2", title="月度划账", may_change=me.role in auth.CHANGING_ROLES,
                regions=region_options(request), progress=_progress(token) if token else None, oob=False,
                values={"month": f"{date.today():%Y-%m}"}, **_runs_page(request))


def _elsewhere(request: Request) -> Progress | None:
    """A run another process started, as far as the stored runs tell (the poll names its month and regions)."""
    month_text, regions = query(request, "month"), [r for r in query(request, "regions").split(",") if r]
    try:
        month = crediting.parse_month(month_text)
    except InputError:
        return None
    if not regions:
        return None
    with engine_of(request).connect() as conn:
        stored = crediting.stored_runs(conn, month, regions)
    progress = Progress(query(request, "run"), month_text, regions, 0, "")
    progress.finished = len(stored) == len(regions)
    progress.results = [{"admdvs": r["admdvs"], "refused": None, "already": False, "policy": "",
                         "members": r["members"], "credited": r["amount"], "contributions_to_pool": None}
                        for r in stored] if progress.finished else []
    return progress


@router.get("/staff/crediting/progress")
def progress(request: Request) -> Response:
    """The progress fragment the page polls; once the run is over, the results and (for htmx) the runs table."""
    auth.staff(request)
    found = _progress(query(request, "run")) or _elsewhere(request)
    if found is None:
        # 200, so that htmx swaps the message in and the polling stops.
        return page(request, "s_crediting_progress.html.j2", progress=None, oob=False)
    oob = found.finished and request.headers.get("hx-request") == "true"
    return page(request, "s_crediting_progress.html.j2", progress=found, oob=oob,
                **(_runs_page(request) if oob else {}))


def _checked(engine: Engine, book: PolicyBook, month_text: str, region: str) -> tuple[date, list[str], dict]:
    """The month and the regions to credit, or the errors by field (nothing is started)."""
    errors: dict[str, str] = {}
    month = None
    if not re.fullmatch(r"\d{4}-\d{2}", month_text):
        errors["month"] = "请按 2024-01 的格式填写月份（年-月）"
    else:
        try:
            month = crediting.parse_month(month_text)
        except InputError:
            errors["month"] = f"{month_text} 不是有效的月份（月份为 01 至 12）"
    with_members = crediting.regions_with_members(engine)
    if region and region not in with_members:
        errors["region"] = f"统筹地区 {region} 没有参保人员" if re.fullmatch(r"\d{6}", region) else \
            "请从列表中选择统筹地区"
    if errors:
        return month, [], errors
    if region:
        try:
            book.policy_for(region, month)
        except PolicyNotFound:
            errors["month"] = f"统筹地区 {region} 在 {month_text} 没有生效的政策版本，不能划账"
        return month, [region], errors
    if not with_members:
        errors["month"] = "还没有参保人员，无需划账"
    return month, with_members, errors


def _credit(engine: Engine, book: PolicyBook, progress: Progress, month: date) -> None:
    """Credit each region in its own transaction (the audit log row in the same), as the admin API does."""
    def advance(members: int) -> None:
        with _lock:
            progress.done += members

    try:
        for admdvs in progress.regions:
            with _lock:
                progress.current = admdvs

            def log_run(conn: Connection, run: dict, admdvs: str = admdvs) -> None:
                audit_log.record(conn, progress.by, "crediting.run", f"{admdvs} {progress.month}", None, run)

            try:
                result = crediting.credit_month(engine, book, month, admdvs, advance=advance, also=log_run)
            except InputError as exc:
                outcome = {"admdvs": admdvs, "refused": exc.zh or str(exc), "already": False}
            else:
                outcome = {"admdvs": admdvs, "refused": None, "already": result.already, "policy": result.policy,
                           "members": result.members, "credited": sum(result.credited.values()),
                           "contributions_to_pool": result.contributions_to_pool}
            with _lock:
                progress.results.append(outcome)
    except Exception:
        log.exception("crediting %s from the web page failed", progress.month)
        with _lock:
            progress.failure = "划账中途出错，该地区的事务已回滚；请查看服务日志后重试"
    finally:
        with _lock:
            progress.finished, progress.current = True, ""


@router.post("/staff/crediting")
async def run(request: Request) -> Response:
    me = auth.staff(request, auth.CHANGING_ROLES)
    form = await auth.form_of(request)
    values = {"month": str(form.get("month", "")).strip(), "region": str(form.get("region", "")).strip()}
    engine, book = engine_of(request), book_of(request)
    month, regions, errors = await run_in_threadpool(_checked, engine, book, values["month"], values["region"])
    if errors:
        context = await run_in_threadpool(lambda: _runs_page(request) | {"regions": region_options(request)})
        return page(request, "s_crediting.html.j2", status=422, title="月度划账", may_change=True, progress=None,
                    oob=False, values=values, errors=errors, **context)

    def members() -> int:
        total = 0
        for admdvs in regions:
            try:
                book.policy_for(admdvs, month)
            except PolicyNotFound:
                continue
            total += crediting.count_members(engine, admdvs, month)
        return total

    progress = Progress(secrets.token_hex(8), values["month"], regions, await run_in_threadpool(members),
                        me.subject)
    _remember(progress)
    threading.Thread(target=_credit, args=(engine, book, progress, month), name=f"credit-{progress.token}",
                     daemon=True).start()
    return RedirectResponse(f"/staff/crediting?run={progress.token}", status_code=303)
