"""Signing in and out of the web pages, on SQLite and PostgreSQL: activation with its errors next to the fields,
member and staff sign-in, CSRF, a tampered session cookie, and no redirect off the site."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from gongji.api.app import create_app
from gongji.services import logins
from gongji.services.users import AUDITOR, add_user
from gongji.web.session import COOKIE, CSRF_COOKIE
from tests.factories import person, snapshot
from tests.services.test_settlement_db import setup

M1 = person("M1", date(1970, 1, 1))


@pytest.fixture
def client(engine, book) -> TestClient:
    setup(engine, book, [M1])
    with TestClient(create_app(engine, book), base_url="https://testserver") as c:
        yield c


def csrf(client: TestClient) -> str:
    if CSRF_COOKIE not in client.cookies:
        client.get("/member/login")
    return client.cookies[CSRF_COOKIE]


def post(client: TestClient, path: str, **form) -> object:
    return client.post(path, data={"csrf": csrf(client), **form}, follow_redirects=False)


def test_activation_shows_each_error_next_to_its_field_and_then_signs_in(engine, client):
    code, _ = logins.invite(engine, "M1")
    before = snapshot(engine)
    mismatch = post(client, "/member/activate", certno=M1["certno"], code=code, password="password-1",
                    password_again="password-2")
    assert mismatch.status_code == 422 and 'id="e-password_again"' in mismatch.text
    assert "两次输入的密码不一致" in mismatch.text and f'value="{M1["certno"]}"' in mismatch.text
    wrong = post(client, "/member/activate", certno=M1["certno"], code="AAAAAAAAAA", password="password-1",
                 password_again="password-1")
    assert wrong.status_code == 422 and 'id="e-code"' in wrong.text and "激活码与证件号码不符" in wrong.text
    weak = post(client, "/member/activate", certno=M1["certno"], code=code, password="12345678",
                password_again="12345678")
    assert weak.status_code == 422 and 'id="e-password"' in weak.text and "密码不能全是数字" in weak.text
    assert snapshot(engine) == before
    done = post(client, "/member/activate", certno=M1["certno"], code=code, password="password-1",
                password_again="password-1")
    assert (done.status_code, done.headers["location"]) == (303, "/m/M1/account")
    assert COOKIE in client.cookies


def test_a_member_signs_in_and_out(engine, client):
    code, _ = logins.invite(engine, "M1")
    logins.activate(engine, M1["certno"], code, "password-1")
    wrong = post(client, "/member/login", certno=M1["certno"], password="password-2")
    assert wrong.status_code == 422 and "证件号码或密码不正确" in wrong.text and COOKIE not in client.cookies
    signed = post(client, "/member/login?next=/m/M1/visits", certno=M1["certno"], password="password-1")
    assert (signed.status_code, signed.headers["location"]) == (303, "/m/M1/visits")
    assert client.get("/", follow_redirects=False).headers["location"] == "/m/M1/account"
    out = post(client, "/logout")
    assert out.status_code == 303 and COOKIE not in client.cookies
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "javascript:alert(1)"])
def test_signing_in_never_sends_the_browser_off_the_site(engine, client, target):
    code, _ = logins.invite(engine, "M1")
    logins.activate(engine, M1["certno"], code, "password-1")
    signed = post(client, f"/member/login?next={target}", certno=M1["certno"], password="password-1")
    assert signed.headers["location"] == "/m/M1/account"


def test_a_post_without_the_csrf_token_is_refused(engine, client):
    code, _ = logins.invite(engine, "M1")
    before = snapshot(engine)
    refused = client.post("/member/activate", data={"certno": M1["certno"], "code": code, "password": "password-1",
                                                     "password_again": "password-1", "csrf": "forged"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert snapshot(engine) == before


def test_a_tampered_session_is_no_session(engine, client):
    add_user(engine, "审计员", AUDITOR)
    logins.set_staff_password(engine, "审计员", "password-1")
    assert post(client, "/staff/login", name="审计员", password="password-1").status_code == 303
    token = client.cookies[COOKIE]
    payload, rest = token.split(".", 1)  # itsdangerous: payload.timestamp.signature
    client.cookies.clear()
    client.cookies.set(COOKIE, payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + rest)
    assert client.get("/", follow_redirects=False).status_code == 200  # the home page: signed out
    client.cookies.clear()
    client.cookies.set(COOKIE, token)
    assert client.get("/", follow_redirects=False).status_code == 303  # the untouched cookie still signs in


def test_staff_sign_in_errors(engine, client):
    add_user(engine, "审计员", AUDITOR)
    logins.set_staff_password(engine, "审计员", "password-1")
    wrong = post(client, "/staff/login", name="审计员", password="password-2")
    assert wrong.status_code == 422 and "用户名或密码不正确" in wrong.text and 'value="审计员"' in wrong.text
