from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from gongji.store.db import database_url, open_engine
from gongji.store.migrate import alembic_config, current_revision, head_revision, upgrade
from gongji.store.tables import metadata


def test_init_creates_every_table_and_a_second_run_changes_nothing(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'x' / 'new.sqlite'}")
    assert upgrade(engine) == (None, head_revision())
    assert upgrade(engine) == (head_revision(), head_revision())
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_the_migrated_schema_is_the_tables_module(engine):
    """Every column the code declares exists in the migrated database (a forgotten migration fails here)."""
    found = inspect(engine)
    for table in metadata.sorted_tables:
        assert {c.name for c in table.columns} == {c["name"] for c in found.get_columns(table.name)}
    assert current_revision(engine) == head_revision()


def test_the_default_database_is_a_sqlite_file_under_var(monkeypatch):
    monkeypatch.delenv("GONGJI_DB_URL", raising=False)
    assert database_url() == "sqlite:///var/gongji.sqlite"
    monkeypatch.setenv("GONGJI_DB_URL", "postgresql://postgres@127.0.0.1/test")
    assert database_url() == "postgresql://postgres@127.0.0.1/test"


def test_the_newest_migration_goes_down_and_up_and_matches_the_tables_exactly(tmp_path):
    """Beyond the columns: keys, indexes, constraints and types agree with tables.py (alembic's autogenerate
    comparison finds nothing), and the newest revision can be undone and redone."""
    engine = open_engine(f"sqlite:///{tmp_path / 'down-up.sqlite'}")
    upgrade(engine)

    def differences() -> list:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), metadata)

    assert differences() == []
    command.downgrade(alembic_config(engine), "-1")
    assert current_revision(engine) != head_revision()
    upgrade(engine)
    assert differences() == []
