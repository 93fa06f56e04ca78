"""Signing in to the web pages: members with their ID number (证件号码) and a password, bureau staff with their
user name and a password. Passwords and activation codes are kept only as argon2 hashes.

A member's first password is set with a one-time activation code from staff (`gongji member invite PSN_NO`): the
code is shown once, is valid for ACTIVATION_DAYS, and is used up by setting the password. Inviting again gives a
new code (a member who forgot the password); the old password stays until the new code is used.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from gongji.errors import InputError
from gongji.store.db import transaction
from gongji.store.ledger import now
from gongji.store.tables import member_logins, persons, users

ACTIVATION_DAYS = 7
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""no 0/O or 1/I: a code is read aloud or copied from paper."""
CODE_LENGTH = 10
MIN_PASSWORD, MAX_PASSWORD = 8, 128
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
"""argon2id at OWASP's minimum (19 MiB, 2 passes): about 20 ms a check on this machine."""
_DUMMY = _hasher.hash("gongji: a password no one has")
"""checked against when there is no such user, so that a wrong name takes as long as a wrong password."""

_PERSON_BY_CERTNO = select(persons.c.psn_no).where(persons.c.certno == bindparam("certno"))
_LOGIN = select(member_logins).where(member_logins.c.psn_no == bindparam("psn_no"))


def _verify(hashed: str | None, secret: str) -> bool:
    try:
        return _hasher.verify(hashed or _DUMMY, secret) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password(password: str, field: str = "password") -> None:
    """A password of MIN_PASSWORD to MAX_PASSWORD characters, not only digits (not a birth date or phone number)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InputError(f"{field}: must be {MIN_PASSWORD} to {MAX_PASSWORD} characters (it has {len(password)})",
                         f"密码应为 {MIN_PASSWORD} 至 {MAX_PASSWORD} 个字符（现为 {len(password)} 个）")
    if password.isdigit():
        raise InputError(f"{field}: must not be digits only", "密码不能全是数字")


def invite(engine: Engine, psn_no: str, at: datetime | None = None) -> tuple[str, datetime]:
    """A new activation code for `psn_no` and when it expires; the code is not kept, only its hash."""
    at = at or now()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires = at + timedelta(days=ACTIVATION_DAYS)
    with transaction(engine) as conn:
        if conn.execute(select(persons.c.psn_no).where(persons.c.psn_no == psn_no)).first() is None:
            raise InputError(f"psn_no: {psn_no!r} is not a registered person", f"psn_no {psn_no!r} 查无此参保人")
        values = {"code_hash": _hasher.hash(code), "code_expires_at": expires, "invited_at": at}
        if conn.execute(_LOGIN, {"psn_no": psn_no}).first() is None:
            conn.execute(insert(member_logins).values(psn_no=psn_no, **values))
        else:
            conn.execute(update(member_logins).where(member_logins.c.psn_no == psn_no).values(**values))
    return code, expires


def _member(conn: Connection, certno: str) -> str | None:
    return conn.execute(_PERSON_BY_CERTNO, {"certno": certno.strip().upper()}).scalar()


def activate(engine: Engine, certno: str, code: str, password: str, at: datetime | None = None) -> str:
    """Set the member's password with their activation code; returns the psn_no. The code is used up."""
    check_password(password)
    at = at or now()
    with transaction(engine) as conn:
        psn_no = _member(conn, certno)
        login = conn.execute(_LOGIN, {"psn_no": psn_no}).mappings().first() if psn_no else None
        given = code.strip().upper()
        if login is None or not _verify(login["code_hash"], given):
            raise InputError("code: not this ID number's activation code, or already used",
                             "激活码与证件号码不符，或已使用")
        if login["code_expires_at"] < at:
            raise InputError(f"code: expired on {login['code_expires_at']:%Y-%m-%d %H:%M}",
                             f"激活码已于 {login['code_expires_at']:%Y-%m-%d %H:%M} 过期，请向经办机构重新申请")
        conn.execute(update(member_logins).where(member_logins.c.psn_no == psn_no).values(
            password_hash=_hasher.hash(password), code_hash=None, code_expires_at=None, activated_at=at))
    return psn_no


def member_signing_in(engine: Engine, certno: str, password: str) -> str | None:
    """The psn_no of the member with this ID number and password, or None (no such member, not activated, or a
    wrong password: the caller says the same for all three)."""
    with engine.connect() as conn:
        psn_no = _member(conn, certno)
        login = conn.execute(_LOGIN, {"psn_no": psn_no}).mappings().first() if psn_no else None
    return psn_no if _verify(login["password_hash"] if login else None, password) else None


def set_staff_password(engine: Engine, name: str, password: str) -> None:
    check_password(password)
    with transaction(engine) as conn:
        done = conn.execute(update(users).where(users.c.name == name).values(password_hash=_hasher.hash(password)))
        if done.rowcount != 1:
            raise InputError(f"name: {name!r} is not a user", f"用户 {name!r} 不存在")


def staff_signing_in(engine: Engine, name: str, password: str) -> Mapping | None:
    """The user (name, role) with this name and password, or None."""
    with engine.connect() as conn:
        user = conn.execute(select(users.c.name, users.c.role, users.c.password_hash)
                            .where(users.c.name == name.strip())).mappings().first()
    if not _verify(user["password_hash"] if user else None, password):
        return None
    return {"name": user["name"], "role": user["role"]}
