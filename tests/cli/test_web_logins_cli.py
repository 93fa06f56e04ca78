"""`gongji member invite` and `gongji user password`, on SQLite and PostgreSQL: the code shown once works, and bad
input is refused with nothing changed."""

from __future__ import annotations

from datetime import date

from gongji.services import logins
from gongji.services.users import OPERATOR, add_user
from tests.cli.test_ops import refused, run
from tests.factories import person, snapshot
from tests.services.test_settlement_db import setup


def test_an_invitation_s_code_activates_the_member(engine, db_url, book):
    m1 = person("M1", date(1970, 1, 1))
    setup(engine, book, [m1])
    shown = run(db_url, "member", "invite", "M1")
    assert shown.exit_code == 0, shown.output
    code = shown.stdout.splitlines()[0]
    assert "M1's activation code, valid until" in shown.stdout
    assert logins.activate(engine, m1["certno"], code, "password-1") == "M1"
    before = snapshot(engine)
    refused(run(db_url, "member", "invite", "NOBODY"), "psn_no", "'NOBODY'")
    assert snapshot(engine) == before


def test_a_staff_password_is_asked_twice(engine, db_url):
    add_user(engine, "王经办", OPERATOR)
    done = run(db_url, "user", "password", "王经办", stdin="password-1\npassword-1\n")
    assert done.exit_code == 0, done.output
    assert logins.staff_signing_in(engine, "王经办", "password-1") == {"name": "王经办", "role": OPERATOR}
    before = snapshot(engine)
    refused(run(db_url, "user", "password", "王经办", stdin="1234567890\n1234567890\n"), "password", "digits only")
    refused(run(db_url, "user", "password", "李四", stdin="password-2\npassword-2\n"), "name", "'李四'")
    assert snapshot(engine) == before
