"""What the staff pages share: paging, reading query parameters and dates, region codes, labels in Chinese."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import Engine

from gongji.engine.bill import PRICE_SCALE
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services.crediting import regions_with_members
from gongji.services.records import NORMAL, PAUSED, TERMINATED

PAGE_SIZE = 20
MAX_PAGE = 1_000_000
STATUS_NAMES = {NORMAL: "正常参保", PAUSED: "暂停", TERMINATED: "终止"}
MEMBER_TYPES = {"in_service": "在职", "retired": "退休"}
LEVELS = {1: "一级", 2: "二级", 3: "三级"}
ACCOUNT_KINDS = {"opening": "期初余额", "credit_individual": "个人缴费划入", "credit_employer": "单位缴费划入",
                 "credit_pool": "统筹基金划入", "interest": "利息", "acct_pay": "本人就医支付",
                 "acct_mulaid_pay": "家庭共济支付", "premium": "缴纳保费", "inheritance": "继承支付"}
"""account movements by ledger kind, as the staff pages name them."""
ADMDVS = re.compile(r"^\d{6}$")


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def book_of(request: Request) -> PolicyBook:
    return request.app.state.book


def query(request: Request, name: str) -> str:
    """A query parameter, stripped; '' when absent."""
    return (request.query_params.get(name) or "").strip()


@dataclass(frozen=True)
class Pager:
    """One page of a list: which page (from 1), how many pages, the total, and the links to the pages beside."""

    page: int
    pages: int
    total: int
    prev_url: str | None
    next_url: str | None

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE


def page_number(request: Request) -> int:
    text = query(request, "page")
    return min(int(text), MAX_PAGE) if text.isdigit() and int(text) >= 1 else 1


def pager(request: Request, total: int, page: int) -> Pager:
    """The pager of `total` items with PAGE_SIZE a page; links keep the request's other query parameters."""
    pages = max(1, -(-total // PAGE_SIZE))

    def url(n: int) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"] + [("page", str(n))]
        return f"{request.url.path}?{urlencode(params)}"

    return Pager(page, pages, total, url(page - 1) if page > 1 else None, url(page + 1) if page < pages else None)


def parse_day(text: str) -> date | None:
    """'2024-03-01' -> date; None when it is not a date of that form."""
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None


def scaled(value: int) -> str:
    """1/10000 units (unit prices, quantities) -> '12.5000'."""
    whole, part = divmod(int(value), PRICE_SCALE)
    return f"{whole}.{part:04d}"


def region_options(request: Request) -> list[tuple[str, str]]:
    """(code, 'code name') of every region with members, named by the policy file that serves it."""
    options = []
    for code in regions_with_members(engine_of(request)):
        try:
            name = book_of(request).region(code).name
        except PolicyNotFound:
            name = "（无政策文件）"
        options.append((code, f"{code} {name}"))
    return options


def not_found(request: Request, message: str):
    """The 404 page with `message`."""
    from gongji.web.render import page

    return page(request, "error.html.j2", status=404, title="页面不存在", message=message)
