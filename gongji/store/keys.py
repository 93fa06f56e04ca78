"""Signing keys made once per database (the settings table), so every server process of a database signs and
checks alike: the first to ask makes the key, every later one reads it."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, select

from gongji.store.db import transaction
from gongji.store.ledger import insert_ignoring
from gongji.store.tables import settings


def database_key(engine: Engine, name: str) -> str:
    """The key `name` of the database `engine` opens, made on first use."""
    with transaction(engine) as conn:
        insert_ignoring(conn, settings, [{"name": name, "value": secrets.token_hex(32)}], ["name"])
        return conn.execute(select(settings.c.value).where(settings.c.name == name)).scalar_one()
