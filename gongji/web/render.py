"""Pages from Jinja2 templates (gongji/web/templates), with what every page needs: who is signed in, the CSRF
token, and the filters for money (yuan, two decimals) and ID numbers (masked)."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gongji.errors import InputError
from gongji.masking import mask_certno
from gongji.money import format_grouped, format_yuan
from gongji.web import session

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_env.filters["yuan"] = lambda fen: "" if fen is None else format_yuan(fen)
_env.filters["yuan_grouped"] = lambda fen: "" if fen is None else format_grouped(fen)
_env.filters["masked"] = lambda certno: mask_certno(certno or "")


def page(request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
    """`template` rendered with `context`, the signed-in session and the CSRF token."""
    context.setdefault("errors", {})
    context.setdefault("values", {})
    html = _env.get_template(template).render(request=request, me=session.current(request),
                                              csrf=session.csrf_token(request), **context)
    response = HTMLResponse(html, status_code=status)
    session.keep_csrf(request, response)
    return response


def field_errors(exc: InputError) -> dict[str, str]:
    """An InputError as {field: message in Chinese}: the field is what its English message names first
    ("code: ..." -> "code"), so a form shows the message next to that field."""
    field = str(exc).split(":", 1)[0].strip()
    return {field: exc.zh or str(exc)}
