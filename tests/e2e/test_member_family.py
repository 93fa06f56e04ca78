"""In a real browser: a member activates, signs in, authorizes her father to use her account (家庭共济), and after
the father's settlement sees the payment on her family page; the pages fit a phone's screen; changing the URL to
another member's page gets her nothing.

Yangzhou 321000 in 2024: a retiree's deductible is 500.00 a year. The father F1 (retired, an empty account) settles
300.00 covered at H1: all of it under the deductible, so the pooled fund pays 0 and the member's share is 300.00;
his own account has 0.00, so his daughter D1's account pays the 300.00 (acct_mulaid_pay), leaving her 2000.00 -
300.00 = 1700.00.
"""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from gongji.services import logins
from tests.e2e.conftest import shot
from tests.factories import fen, person
from tests.services.test_settlement_db import balance, setup, visit

D1 = person("D1", date(1980, 5, 1), gend="2", balc="2000.00", serial=21)
F1 = person("F1", date(1950, 3, 1), psn_type="12", pension="3000.00", balc="0.00", serial=22)


def test_a_member_authorizes_her_father_and_sees_what_his_visit_took(engine, book, site, page):
    setup(engine, book, [D1, F1], relations=[("D1", "F1", "parent")])
    code, _ = logins.invite(engine, "D1")

    page.goto(f"{site}/member/activate")
    page.get_by_label("证件号码（居民身份证）").fill(D1["certno"])
    page.get_by_label("激活码").fill(code)
    page.get_by_label("新密码", exact=True).fill("password-1")
    page.get_by_label("再次输入新密码").fill("password-1")
    page.get_by_role("button", name="激活").click()
    expect(page).to_have_url(f"{site}/m/D1/account")
    # sign out and in again with the new password
    page.get_by_role("button", name="退出（D1）").click()
    page.goto(f"{site}/member/login")
    page.get_by_label("证件号码（居民身份证）").fill(D1["certno"])
    page.get_by_label("密码").fill("password-1")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{site}/m/D1/account")
    expect(page.locator("main")).to_contain_text("2,000.00")

    page.get_by_role("link", name="家庭共济").click()
    father = page.locator("#relatives-table tr", has_text="测试F1")
    father.get_by_role("button", name="授权使用我的账户").click()  # htmx swaps the list in place
    expect(father).to_contain_text("已授权")
    expect(page.get_by_role("status")).to_be_visible()

    done = visit(engine, book, "F1", "300.00", on=date(2024, 3, 1))  # the father's visit, settled at H1
    assert (done.row["hifp_pay"], done.row["acct_mulaid_pay"]) == (0, fen("300.00"))
    assert balance(engine, "D1") == fen("1700.00")

    page.reload()
    paid = page.locator("section, table", has_text="测试F1").filter(has_text="300.00").first
    expect(paid).to_contain_text("2024-03-01")
    expect(page.locator("main")).to_contain_text("机构H32100000001")
    shot(page, "family")

    # on a phone the pages fit the screen's width: wide tables scroll inside their own box
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("visits", "family", "account"):
        page.goto(f"{site}/m/D1/{path}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    shot(page, "account-phone")

    # another member's page, by changing the URL: it does not exist for her
    response = page.goto(f"{site}/m/F1/account")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("页面不存在")
    expect(page.locator("main")).not_to_contain_text("测试F1")
