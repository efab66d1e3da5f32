"""The SQLAlchemy engine and sessions, a service's alembic migrations, and the database half of readiness."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from a2wsgi import WSGIMiddleware
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from servicekit.settings import DatabaseSettings

# Connexion's FlaskApp runs every Flask view on a2wsgi's default pool (spec-first/connexion#1979),
# so that many threads can want a connection at once; a bigger pool would only hold idle connections.
FLASK_THREADS: int = inspect.signature(WSGIMiddleware).parameters["workers"].default


class Migrations:
    """A service's alembic migrations, found through its `alembic.ini`. The service's `env.py` reads the
    database URL from `config.attributes["database_url"]`, which every command here sets."""

    def __init__(self, alembic_ini: Path) -> None:
        self.alembic_ini = alembic_ini

    def config(self, database_url: str) -> Config:
        config = Config(str(self.alembic_ini))
        config.attributes["database_url"] = database_url
        return config

    def upgrade(self, database_url: str, revision: str = "head") -> None:
        """Upgrade the database to `revision` (a service's `migrate` command and the tests use this)."""
        _create_sqlite_folder(database_url)
        command.upgrade(self.config(database_url), revision)

    def heads(self) -> frozenset[str]:
        return frozenset(ScriptDirectory.from_config(Config(str(self.alembic_ini))).get_heads())


def _create_sqlite_folder(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _connect_args(database_url: str, timeout_seconds: float, application_name: str) -> dict[str, Any]:
    if make_url(database_url).get_backend_name() == "sqlite":
        return {"timeout": timeout_seconds}
    return {"connect_timeout": math.ceil(timeout_seconds), "application_name": application_name}


def psycopg_connection(connection: Connection) -> psycopg.Connection[Any]:
    """The driver's own connection under SQLAlchemy's, for what only psycopg does (COPY)."""
    driver_connection = connection.connection.driver_connection
    assert isinstance(driver_connection, psycopg.Connection)
    return driver_connection


class Database:
    def __init__(
        self, database_url: str, migrations: Migrations, *, timeout_seconds: float, application_name: str
    ) -> None:
        _create_sqlite_folder(database_url)
        self.timeout_seconds = timeout_seconds
        self.engine: Engine = create_engine(
            database_url,
            pool_size=FLASK_THREADS,
            max_overflow=0,
            pool_timeout=timeout_seconds,
            pool_pre_ping=True,
            connect_args=_connect_args(database_url, timeout_seconds, application_name),
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._migration_heads = migrations.heads()

    @classmethod
    def from_settings(cls, settings: DatabaseSettings, migrations: Migrations) -> Database:
        return cls(
            settings.database_url,
            migrations,
            timeout_seconds=settings.database_timeout_seconds,
            application_name=settings.service_name,
        )

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back when it raises."""
        with self.sessions.begin() as session:
            yield session

    def unready_reason(self) -> str | None:
        """Why the database cannot serve requests yet, or None when it can (blocking: call off the loop)."""
        with self.engine.connect() as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
        if current != self._migration_heads:
            return (
                f"database schema is at {sorted(current) or 'no revision'}, "
                f"the service needs {sorted(self._migration_heads)}: run `python run.py migrate`"
            )
        return None

    def dispose(self) -> None:
        self.engine.dispose()
