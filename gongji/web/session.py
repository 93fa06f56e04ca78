"""Who is signed in to the web pages, and CSRF protection.

The session is a signed cookie (itsdangerous, a key made once per database like the e-voucher key): the kind
(member or staff), the psn_no or user name, the staff role, and when it was issued; it expires after MAX_AGE.
The cookie is HttpOnly, SameSite=Lax and Secure (browsers keep Secure cookies of http://127.0.0.1 and localhost;
GONGJI_COOKIE_SECURE=0 drops the flag for another plain-http host).

CSRF: a random token in its own cookie (SameSite=Strict), which every form repeats in the hidden field `csrf`
(htmx sends it as the X-CSRF-Token header); a POST without the same token is refused (the double-submit cookie).
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine

from gongji.store.keys import database_key

COOKIE, CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER = "gongji_session", "gongji_csrf", "csrf", "x-csrf-token"
MAX_AGE = 8 * 3600
"""a working day; then sign in again."""
MEMBER, STAFF = "member", "staff"
KEY_NAME = "web_session_key"
_SALT = "gongji-web-session"
_serializers: dict[str, URLSafeTimedSerializer] = {}


@dataclass(frozen=True)
class Session:
    kind: str
    subject: str
    """the member's psn_no, or the staff user's name."""
    role: str | None = None


def _secure() -> bool:
    return os.environ.get("GONGJI_COOKIE_SECURE", "1") != "0"


def _serializer(engine: Engine) -> URLSafeTimedSerializer:
    url = str(engine.url)
    if url not in _serializers:
        _serializers[url] = URLSafeTimedSerializer(database_key(engine, KEY_NAME), salt=_SALT)
    return _serializers[url]


def current(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        data = _serializer(request.app.state.engine).loads(token, max_age=MAX_AGE)
    except BadSignature:  # altered, expired, or signed by another database's key
        return None
    return Session(data["kind"], data["subject"], data.get("role"))


def start(request: Request, response: Response, session: Session) -> None:
    token = _serializer(request.app.state.engine).dumps(
        {"kind": session.kind, "subject": session.subject, "role": session.role, "at": int(time.time())})
    response.set_cookie(COOKIE, token, max_age=MAX_AGE, httponly=True, secure=_secure(), samesite="lax", path="/")


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def csrf_token(request: Request) -> str:
    """The request's CSRF token: its cookie's, or a new one (set on the response by `keep_csrf`)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token:
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


def keep_csrf(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, secure=_secure(), samesite="strict", path="/")


class CsrfRefused(Exception):  # noqa: N818
    """A POST without the CSRF token of its cookie (auth.install answers it with a 403 page)."""


def check_csrf(request: Request, form: dict) -> None:
    """Refuse a POST whose form field (or htmx header) does not repeat the CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    if not cookie or not hmac.compare_digest(cookie, sent):
        raise CsrfRefused()
