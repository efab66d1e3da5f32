"""Alembic's entry point: the URL comes from the caller (app.database.migrate) or from config.py."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from config import load_settings

config = context.config
database_url = config.attributes.get("database_url") or load_settings().database_url
# No models yet: the data model (app/models.py) arrives with the Directmail data issue.
target_metadata = None


def run_migrations_offline() -> None:
    context.configure(url=database_url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
