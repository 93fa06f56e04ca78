"""Alembic's entry: runs migrations on the Engine that `gongji.store.migrate` hands over."""

from alembic import context

from gongji.store.tables import metadata

engine = context.config.attributes["engine"]
# SQLite alters tables by copying them (batch mode); PostgreSQL alters in place.
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
