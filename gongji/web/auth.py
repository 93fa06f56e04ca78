"""Signing in and out, and what every page checks: a member page shows only the signed-in member's own data
(another psn_no in the URL is answered as if it did not exist), a staff page checks the user's role."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gongji.errors import InputError
from gongji.services import logins
from gongji.services.users import ADMIN, AUDITOR, OPERATOR
from gongji.web import session
from gongji.web.render import field_errors, page
from gongji.web.session import MEMBER, STAFF, Session

router = APIRouter(include_in_schema=False)
EVERY_ROLE = (OPERATOR, AUDITOR, ADMIN)
CHANGING_ROLES = (OPERATOR, ADMIN)
"""who may change records from the staff pages (as in the admin API)."""


class SignInFirst(Exception):  # noqa: N818 (a redirect, not an error)
    """No session of the kind the page needs: to its sign-in page, and back after."""

    def __init__(self, kind: str, back: str):
        self.kind, self.back = kind, back


class NotYours(Exception):  # noqa: N818
    """A page the signed-in user may not see: 404 for a member (another member's page does not exist for them),
    403 for a staff role."""

    def __init__(self, status: int):
        self.status = status


def member(request: Request, psn_no: str) -> Session:
    """The signed-in member, who must be `psn_no`."""
    me = session.current(request)
    if me is None or me.kind != MEMBER:
        raise SignInFirst(MEMBER, request.url.path)
    if me.subject != psn_no:
        raise NotYours(404)
    return me


def staff(request: Request, roles: tuple[str, ...] = EVERY_ROLE) -> Session:
    """The signed-in staff user, who must hold one of `roles`."""
    me = session.current(request)
    if me is None or me.kind != STAFF:
        raise SignInFirst(STAFF, request.url.path)
    if me.role not in roles:
        raise NotYours(403)
    return me


def install(app) -> None:
    @app.exception_handler(SignInFirst)
    async def _sign_in(request: Request, exc: SignInFirst) -> Response:
        return RedirectResponse(f"/{exc.kind}/login?next={exc.back}", status_code=303)

    @app.exception_handler(session.CsrfRefused)
    async def _csrf(request: Request, exc: session.CsrfRefused) -> Response:
        text = "表单已过期或来源不明（CSRF 校验未通过），请刷新页面后重试"
        return page(request, "error.html.j2", status=403, title="未办理", message=text)

    @app.exception_handler(NotYours)
    async def _not_yours(request: Request, exc: NotYours) -> Response:
        text = "页面不存在" if exc.status == 404 else "您的角色无权办理此项业务"
        return page(request, "error.html.j2", status=exc.status, title=text, message=text)


def _next(request: Request, default: str) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    wanted = request.query_params.get("next") or ""
    return wanted if wanted.startswith("/") and not wanted.startswith("//") else default


def _signed_in(request: Request, signed: Session, target: str) -> Response:
    """To `target`, with the session cookie of `signed`."""
    response = RedirectResponse(target, status_code=303)
    session.start(request, response, signed)
    return response


async def form_of(request: Request) -> dict:
    """A POSTed form, its CSRF token checked."""
    form = dict(await request.form())
    session.check_csrf(request, form)
    return form


@router.get("/")
def home(request: Request) -> Response:
    me = session.current(request)
    if me is not None:
        return RedirectResponse(f"/m/{me.subject}/account" if me.kind == MEMBER else "/staff/persons", 303)
    return page(request, "home.html.j2")


@router.get("/member/login")
def member_login_form(request: Request) -> Response:
    return page(request, "member_login.html.j2")


@router.post("/member/login")
async def member_login(request: Request) -> Response:
    form = await form_of(request)
    certno, password = str(form.get("certno", "")), str(form.get("password", ""))
    psn_no = await run_in_threadpool(logins.member_signing_in, request.app.state.engine, certno, password)
    if psn_no is None:
        return page(request, "member_login.html.j2", status=422, values={"certno": certno},
                    errors={"password": "证件号码或密码不正确（首次使用请先激活）"})
    return _signed_in(request, Session(MEMBER, psn_no), _next(request, f"/m/{psn_no}/account"))


@router.get("/member/activate")
def activate_form(request: Request) -> Response:
    return page(request, "member_activate.html.j2")


@router.post("/member/activate")
async def activate(request: Request) -> Response:
    form = await form_of(request)
    values = {"certno": str(form.get("certno", "")), "code": str(form.get("code", ""))}
    password, again = str(form.get("password", "")), str(form.get("password_again", ""))
    if password != again:
        return page(request, "member_activate.html.j2", status=422, values=values,
                    errors={"password_again": "两次输入的密码不一致"})
    try:
        psn_no = await run_in_threadpool(logins.activate, request.app.state.engine, values["certno"],
                                         values["code"], password)
    except InputError as exc:
        return page(request, "member_activate.html.j2", status=422, values=values, errors=field_errors(exc))
    return _signed_in(request, Session(MEMBER, psn_no), f"/m/{psn_no}/account")


@router.get("/staff/login")
def staff_login_form(request: Request) -> Response:
    return page(request, "staff_login.html.j2")


@router.post("/staff/login")
async def staff_login(request: Request) -> Response:
    form = await form_of(request)
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    user = await run_in_threadpool(logins.staff_signing_in, request.app.state.engine, name, password)
    if user is None:
        return page(request, "staff_login.html.j2", status=422, values={"name": name},
                    errors={"password": "用户名或密码不正确"})
    return _signed_in(request, Session(STAFF, user["name"], user["role"]), _next(request, "/staff/persons"))


@router.post("/logout")
async def logout(request: Request) -> Response:
    await form_of(request)
    response = RedirectResponse("/", status_code=303)
    session.end(response)
    return response

