"""In a real browser: a staff operator signs in, runs January's crediting and sees the totals appear.

The registry (tests/web/test_staff_pages.py): M1 in service, base 6000.00: 2 % x 6000.00 = 120.00; R1 retired:
2.5 % x 3000.00 (the region's average pension of the reform year) = 75.00; 2 members, 195.00 to accounts.
"""

from __future__ import annotations

from playwright.sync_api import expect

from gongji.services import family, logins
from gongji.services.users import OPERATOR, add_user
from tests.e2e.conftest import shot
from tests.factories import fen
from tests.services.test_monitor_queue_db import registry
from tests.services.test_settlement_db import balance
from tests.web.test_staff_pages import R1


def test_an_operator_credits_a_month_and_sees_the_totals(engine, book, site, page):
    registry(engine, book, people=[R1], relations=[("M1", "R1", "parent")])
    family.authorize(engine, "R1", "M1")
    add_user(engine, "王经办", OPERATOR)
    logins.set_staff_password(engine, "王经办", "password123")

    page.goto(f"{site}/staff/crediting")  # signed out: to the sign-in page, and back after
    page.get_by_label("用户名").fill("王经办")
    page.get_by_label("密码").fill("password123")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{site}/staff/crediting")
    expect(page.locator("#runs")).to_contain_text("还没有划账记录")

    page.get_by_label("月份").fill("2024-13")
    page.get_by_role("button", name="开始划账").click()
    expect(page.locator("#e-month")).to_be_visible()
    assert balance(engine, "M1") == 0  # the bad month credited nothing

    page.get_by_label("月份").fill("2024-01")
    page.get_by_label("统筹地区").select_option("321000")
    page.get_by_role("button", name="开始划账").click()
    expect(page.locator("#progress")).to_contain_text("已完成", timeout=20_000)
    expect(page.locator("#runs")).to_contain_text("195.00")
    expect(page.locator("#runs tbody tr").first).to_contain_text("2024-01")
    assert balance(engine, "M1") == fen("120.00")
    shot(page, "crediting")
