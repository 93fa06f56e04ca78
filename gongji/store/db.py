"""Which database, and how to talk to it: the SQLite default under ./var/ or any SQLAlchemy URL.

Every use case runs in one transaction (`transaction`). On SQLite that transaction starts with BEGIN
IMMEDIATE, so writers queue for the database lock at the start instead of failing halfway; on PostgreSQL rows
are locked with SELECT ... FOR UPDATE where a use case reads what it then changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_URL = "GONGJI_DB_URL"
DEFAULT_PATH = Path("var") / "gongji.sqlite"
SQLITE_BUSY_MS = 30_000


class DatabaseError(ValueError):
    """A database URL or state gongji cannot use; the message says which and why."""


def database_url(explicit: str | None = None) -> str:
    """`explicit`, else $GONGJI_DB_URL, else the SQLite file var/gongji.sqlite under the working directory."""
    url = explicit or os.environ.get(ENV_URL)
    if url:
        return url
    return f"sqlite:///{DEFAULT_PATH}"


def open_engine(url: str | None = None, pool_size: int = 5) -> Engine:
    """An Engine for `url` (see `database_url`); postgresql:// URLs use psycopg 3."""
    url = database_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"--db / {ENV_URL}: {url!r} is not a database URL") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    # pool_reset_on_return=None: every use of a connection ends in commit or rollback (`transaction`; closing a
    # Connection rolls back what it began), so the pool need not roll back again when a connection comes back,
    # a round trip that cost 10 % of a settlement.
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    try:
        return create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_reset_on_return=None)
    except (ArgumentError, ImportError) as exc:
        raise DatabaseError(f"--db / {ENV_URL}: cannot use {url!r}: {exc}") from None


def _sqlite_engine(url) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000}, pool_reset_on_return=None)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, say when transactions begin (so BEGIN IMMEDIATE below is ours).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint the WAL every 80 MB instead of every 4 MB: measured +15 % settlements/s.
        cursor.execute("PRAGMA wal_autocheckpoint=20000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work: committed when the block ends, rolled back entirely when it raises."""
    with engine.begin() as conn:
        yield conn
