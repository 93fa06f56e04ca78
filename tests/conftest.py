import os
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from gongji.policy.loader import PolicyBook
from gongji.services import monitor_online
from gongji.store.db import open_engine
from gongji.store.migrate import upgrade
from gongji.store.tables import metadata

TESTS = Path(__file__).parent
TEST_POLICIES = TESTS / "policies"
PG_ADMIN = os.environ.get("GONGJI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = os.environ.get("GONGJI_TEST_BACKENDS", "sqlite,postgresql").split(",")
"""Every database test runs once per backend; CI runs both (set GONGJI_TEST_BACKENDS=sqlite to skip PostgreSQL)."""


@pytest.fixture(scope="session")
def book() -> PolicyBook:
    """The shipped regions plus the test region 990100."""
    return PolicyBook.load(TEST_POLICIES)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "gongji.sqlite"
    engine = open_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url():
    """A database of its own for this test session, migrated once, dropped at the end."""
    name = f"gongji_test_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    engine = open_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        path = tmp_path / "gongji.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    engine = open_engine(url)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    monitor_online.forget_knowledge()  # the same URL, another database's knowledge base
    return url


@pytest.fixture
def engine(db_url):
    engine = open_engine(db_url)
    yield engine
    engine.dispose()
