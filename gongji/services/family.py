"""Family mutual aid (家庭共济): an account owner authorizes a spouse, parent or child to use the account."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update

from gongji.errors import InputError
from gongji.services.records import INVERSE
from gongji.store.db import transaction
from gongji.store.ledger import now
from gongji.store.tables import accounts, authorizations, persons, relations


def registered_person(conn: Connection, psn_no: str, field: str) -> Mapping:
    """The person `psn_no`, or an InputError naming `field`."""
    found = conn.execute(select(persons).where(persons.c.psn_no == psn_no)).mappings().first()
    if found is None:
        raise InputError(f"{field}: {psn_no!r} is not a registered person", f"{psn_no!r} 不是登记的参保人员")
    return found


def relation_between(conn: Connection, owner: Mapping, relative: Mapping) -> str | None:
    """What `relative` is to `owner` (spouse, parent, child) by the relations either of them registered."""
    found = conn.execute(select(relations.c.relation).where(
        relations.c.psn_no == owner["psn_no"], relations.c.relative_certno == relative["certno"])).scalar()
    if found:
        return found
    found = conn.execute(select(relations.c.relation).where(
        relations.c.psn_no == relative["psn_no"], relations.c.relative_certno == owner["certno"])).scalar()
    return INVERSE[found] if found else None


Also = Callable[[Connection, dict], None]
"""More work the caller does at the end of the use case's own transaction, given the authorization row."""


def authorize(engine: Engine, owner_psn_no: str, user_psn_no: str, at: datetime | None = None,
              also: Also | None = None) -> dict:
    """Let `user_psn_no` use `owner_psn_no`'s account; only a spouse, parent or child may be authorized."""
    with transaction(engine) as conn:
        owner = registered_person(conn, owner_psn_no, "owner")
        user = registered_person(conn, user_psn_no, "relative")
        if owner_psn_no == user_psn_no:
            raise InputError(f"relative: {user_psn_no} is the owner; an account always pays for its owner",
                             "不能授权本人：个人账户本来就为本人支付")
        relation = relation_between(conn, owner, user)
        if relation is None:
            raise InputError(f"relative: {user_psn_no} is not registered as {owner_psn_no}'s spouse, parent or "
                             "child; family mutual aid admits no other relation",
                             f"{user_psn_no} 未登记为 {owner_psn_no} 的配偶、父母或子女，家庭共济仅限这三种关系")
        closed = conn.execute(select(accounts.c.closed_on).where(accounts.c.psn_no == owner_psn_no)).scalar()
        if closed is not None:
            raise InputError(f"owner: the account of {owner_psn_no} was closed on {closed}",
                             f"{owner_psn_no} 的个人账户已于 {closed} 注销")
        active = conn.execute(select(authorizations.c.id).where(
            authorizations.c.owner_psn_no == owner_psn_no, authorizations.c.user_psn_no == user_psn_no,
            authorizations.c.revoked_at.is_(None))).first()
        if active:
            raise InputError(f"relative: {user_psn_no} is already authorized to use {owner_psn_no}'s account",
                             f"{user_psn_no} 已获授权使用 {owner_psn_no} 的个人账户")
        row = {"owner_psn_no": owner_psn_no, "user_psn_no": user_psn_no, "relation": relation,
               "granted_at": at or now(), "revoked_at": None}
        conn.execute(insert(authorizations).values(**row))
        if also is not None:
            also(conn, row)
    return row


def revoke(engine: Engine, owner_psn_no: str, user_psn_no: str, at: datetime | None = None,
           also: Also | None = None) -> dict:
    """End `user_psn_no`'s use of `owner_psn_no`'s account; returns the authorization as revoked."""
    with transaction(engine) as conn:
        registered_person(conn, owner_psn_no, "owner")
        registered_person(conn, user_psn_no, "relative")
        row = conn.execute(update(authorizations).where(
            authorizations.c.owner_psn_no == owner_psn_no, authorizations.c.user_psn_no == user_psn_no,
            authorizations.c.revoked_at.is_(None)).values(revoked_at=at or now())
            .returning(authorizations.c.owner_psn_no, authorizations.c.user_psn_no, authorizations.c.relation,
                       authorizations.c.granted_at, authorizations.c.revoked_at)).mappings().first()
        if row is None:
            raise InputError(f"relative: {user_psn_no} is not authorized to use {owner_psn_no}'s account",
                             f"{user_psn_no} 未获授权使用 {owner_psn_no} 的个人账户")
        row = dict(row)
        if also is not None:
            also(conn, row)
    return row
