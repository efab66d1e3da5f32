"""The fixture service's alembic entry point: the URL always comes from servicekit's Migrations."""

from alembic import context
from sqlalchemy import create_engine, pool

engine = create_engine(context.config.attributes["database_url"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
