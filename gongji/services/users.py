"""Bureau staff (经办人员) of the admin API and their bearer tokens.

A token is shown once, when the user is added; only its SHA-256 is stored, so a copy of the database gives no
one a way in.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from gongji.errors import InputError
from gongji.store.db import transaction
from gongji.store.ledger import now
from gongji.store.tables import users

OPERATOR, AUDITOR, ADMIN = "operator", "auditor", "admin"
ROLES = (OPERATOR, AUDITOR, ADMIN)
"""operator: reads and changes records; auditor: reads; admin: also reads the audit log and the users."""
MAX_NAME = 50


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(engine: Engine, name: str, role: str) -> str:
    """Add a user; returns the bearer token, which is not kept and cannot be shown again."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InputError(f"name: must be 1 to {MAX_NAME} characters (value: {name!r})")
    if role not in ROLES:
        raise InputError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    try:
        with transaction(engine) as conn:
            if conn.execute(select(users.c.name).where(users.c.name == name)).first():
                raise InputError(f"name: {name!r} is already a user")
            conn.execute(insert(users).values(name=name, role=role, token_hash=token_hash(token), created_at=now()))
    except IntegrityError:  # the same name added at the same time
        raise InputError(f"name: {name!r} is already a user") from None
    return token


def user_for_token(engine: Engine, token: str) -> Mapping | None:
    """The user (name, role, created_at) holding `token`, or None."""
    with engine.connect() as conn:
        return conn.execute(select(users.c.name, users.c.role, users.c.created_at)
                            .where(users.c.token_hash == token_hash(token))).mappings().first()


def list_users(engine: Engine) -> list[Mapping]:
    with engine.connect() as conn:
        return list(conn.execute(select(users.c.name, users.c.role, users.c.created_at)
                                 .order_by(users.c.name)).mappings())
