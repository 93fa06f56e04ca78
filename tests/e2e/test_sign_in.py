"""In a real browser: a member's activation with a wrong code shows the error next to the field and changes
nothing; with the right code the member is signed in; the keyboard alone can do it."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from gongji.services import logins
from tests.e2e.conftest import shot
from tests.factories import person, snapshot
from tests.services.test_settlement_db import setup

M1 = person("M1", date(1970, 1, 1))


def test_activation_shows_the_error_next_to_the_field_then_signs_in(engine, book, site, page):
    setup(engine, book, [M1])
    code, _ = logins.invite(engine, "M1")
    before = snapshot(engine)
    page.goto(f"{site}/member/activate")
    page.get_by_label("证件号码（居民身份证）").fill(M1["certno"])
    page.get_by_label("激活码").fill("WRONGCODE2")
    page.get_by_label("新密码", exact=True).fill("password-1")
    page.get_by_label("再次输入新密码").fill("password-1")
    page.get_by_role("button", name="激活").click()
    error = page.locator("#e-code")
    expect(error).to_have_text("激活码与证件号码不符，或已使用")
    expect(page.get_by_label("激活码")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("证件号码（居民身份证）")).to_have_value(M1["certno"])
    shot(page, "activation-error")
    assert snapshot(engine) == before
    # the keyboard alone: the code field, then tab through the passwords and press Enter
    page.get_by_label("激活码").fill(code)
    page.get_by_label("激活码").press("Tab")
    page.keyboard.type("password-1")
    page.keyboard.press("Tab")
    page.keyboard.type("password-1")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{site}/m/M1/account")
    assert logins.member_signing_in(engine, M1["certno"], "password-1") == "M1"
