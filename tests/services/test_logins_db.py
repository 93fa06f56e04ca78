"""Signing in to the web pages, on SQLite and PostgreSQL: a member's activation code sets the first password once,
before it expires; passwords and codes are kept only as argon2 hashes; bad input changes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from gongji.errors import InputError
from gongji.services import logins
from gongji.services.users import OPERATOR, add_user
from gongji.store.tables import member_logins, users
from tests.factories import person, snapshot
from tests.services.test_settlement_db import setup

M1 = person("M1", date(1970, 1, 1))
INVITED = datetime(2024, 3, 1, 9, 0, 0)


@pytest.fixture
def invited(engine, book) -> str:
    setup(engine, book, [M1])
    code, expires = logins.invite(engine, "M1", at=INVITED)
    assert expires == INVITED + timedelta(days=7)
    return code


def test_the_code_sets_the_first_password_once(engine, invited):
    assert len(invited) == 10 and set(invited) <= set(logins.CODE_ALPHABET)
    with engine.connect() as conn:
        stored = conn.execute(select(member_logins)).mappings().one()
    assert invited not in stored["code_hash"] and stored["password_hash"] is None  # only a hash is kept
    # the code is read without case or spaces; the ID number's X may be lower case
    assert logins.activate(engine, M1["certno"].lower(), f" {invited.lower()} ", "春眠不觉晓abc",
                           at=INVITED + timedelta(days=1)) == "M1"
    assert logins.member_signing_in(engine, M1["certno"], "春眠不觉晓abc") == "M1"
    assert logins.member_signing_in(engine, M1["certno"], "春眠不觉晓abd") is None
    before = snapshot(engine)
    with pytest.raises(InputError, match="code: not this ID number's activation code, or already used"):
        logins.activate(engine, M1["certno"], invited, "another-password", at=INVITED + timedelta(days=2))
    assert snapshot(engine) == before


def test_an_expired_code_is_refused_and_a_new_invitation_replaces_it(engine, invited):
    before = snapshot(engine)
    with pytest.raises(InputError, match="code: expired on 2024-03-08 09:00") as refused:
        logins.activate(engine, M1["certno"], invited, "password-1", at=INVITED + timedelta(days=7, seconds=1))
    assert "请向经办机构重新申请" in refused.value.zh
    assert snapshot(engine) == before
    again, _ = logins.invite(engine, "M1", at=INVITED + timedelta(days=8))
    with pytest.raises(InputError, match="code: not this"):  # the old code no longer works
        logins.activate(engine, M1["certno"], invited, "password-1", at=INVITED + timedelta(days=8))
    assert logins.activate(engine, M1["certno"], again, "password-1", at=INVITED + timedelta(days=8)) == "M1"


@pytest.mark.parametrize(("password", "message"), [
    ("short7!", "password: must be 8 to 128 characters (it has 7)"),
    ("x" * 129, "password: must be 8 to 128 characters (it has 129)"),
    ("19700101", "password: must not be digits only"),
])
def test_a_weak_password_is_refused(engine, invited, password, message):
    before = snapshot(engine)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        logins.activate(engine, M1["certno"], invited, password, at=INVITED)
    assert snapshot(engine) == before


def test_unknown_people_are_refused_alike(engine, invited):
    with pytest.raises(InputError, match="psn_no: 'NOBODY' is not a registered person"):
        logins.invite(engine, "NOBODY")
    with pytest.raises(InputError, match="code: not this"):
        logins.activate(engine, "110101199001011234", invited, "password-1", at=INVITED)
    assert logins.member_signing_in(engine, "110101199001011234", "password-1") is None
    assert logins.member_signing_in(engine, M1["certno"], "password-1") is None  # invited, not activated


def test_staff_passwords(engine):
    add_user(engine, "王经办", OPERATOR)
    assert logins.staff_signing_in(engine, "王经办", "password-1") is None  # no password yet
    logins.set_staff_password(engine, "王经办", "password-1")
    assert logins.staff_signing_in(engine, " 王经办 ", "password-1") == {"name": "王经办", "role": OPERATOR}
    assert logins.staff_signing_in(engine, "王经办", "password-2") is None
    with engine.connect() as conn:
        assert "password-1" not in conn.execute(select(users.c.password_hash)).scalar_one()
    with pytest.raises(InputError, match="name: '李四' is not a user"):
        logins.set_staff_password(engine, "李四", "password-1")
