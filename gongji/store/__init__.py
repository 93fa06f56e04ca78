"""Storage: SQLAlchemy Core tables, Alembic migrations, the engine and its transactions."""
