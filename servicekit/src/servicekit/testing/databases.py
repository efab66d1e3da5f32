"""Test databases on a real PostgreSQL + PostGIS server: made per run from a service's migrations, dropped after."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from alembic import command
from sqlalchemy import make_url

from servicekit.database import Database
from servicekit.downloads import Downloads
from servicekit.migrations import Migrations

DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# A streaming replica of the default server, where a service's test set-up starts one.
DEFAULT_REPLICA_URL = "postgresql+psycopg://postgres@127.0.0.1:5433/postgres"
DEFAULT_PREFIX = "servicekit_test_"  # what a test database's name starts with, before its own random part


def libpq_url(url: str) -> str:
    """A URL psycopg and psql understand (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str, migrations: Migrations | None = None, prefix: str = DEFAULT_PREFIX) -> str:
    """A new database on the test server, named `prefix` and a random part, migrated to head when
    `migrations` are given; a migration that fails drops it again."""
    name = f"{valid_prefix(prefix)}{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(server_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    database_url = url.render_as_string(hide_password=False)
    if migrations:
        try:
            migrations.upgrade(database_url)
        except BaseException:
            drop_database(server_url, database_url)
            raise
    return database_url


def valid_prefix(prefix: str) -> str:
    """`prefix`, when it can start a database's name: lower-case letters, digits and underscores, short
    enough to leave room for the random part within PostgreSQL's 63 characters."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,39}", prefix):
        raise ValueError(f"a test database prefix is 1 to 40 of a-z, 0-9 and _, not starting with a digit: {prefix!r}")
    return prefix


def drop_database(server_url: str, database_url: str) -> None:
    with psycopg.connect(libpq_url(server_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)')


@contextmanager
def temporary_database(
    server_url: str, migrations: Migrations | None = None, prefix: str = DEFAULT_PREFIX
) -> Iterator[str]:
    """A database made for the block (migrated when `migrations` are given), dropped afterwards."""
    url = create_database(server_url, migrations, prefix)
    try:
        yield url
    finally:
        drop_database(server_url, url)


def on_server(database_url: str, server_url: str) -> str:
    """`database_url`'s database on another server: the same database on a replica of its server."""
    database = make_url(database_url).database
    return make_url(server_url).set(drivername="postgresql+psycopg", database=database).render_as_string(False)


def replayed(primary_url: str, replica_url: str, seconds: float = 10) -> bool:
    """Whether the replica has replayed, within `seconds`, everything written to the primary so far."""
    with psycopg.connect(libpq_url(primary_url)) as primary:
        written = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    deadline = time.monotonic() + seconds
    with psycopg.connect(libpq_url(replica_url), autocommit=True) as replica:
        while True:
            behind = replica.execute("SELECT pg_last_wal_replay_lsn() < %s::pg_lsn", written).fetchone()
            if behind is not None and not behind[0]:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


def assert_migrated(database_url: str, migrations: Migrations) -> None:
    """The database at `database_url` has every migration applied: readiness finds its schema at head."""
    database = Database(database_url, migrations, timeout_seconds=2, application_name="servicekit-tests")
    try:
        assert database.unready_reason() is None
    finally:
        database.dispose()


def assert_migrations_round_trip(database_url: str, migrations: Migrations) -> None:
    """On the empty database at `database_url`: every migration applies, every one undoes itself, and they
    apply again, so that a rollback of a release is a tested path."""
    migrations.upgrade(database_url)
    command.downgrade(migrations.config(database_url), "base")
    migrations.upgrade(database_url)
    assert_migrated(database_url, migrations)


def assert_models_match_migrations(database_url: str, migrations: Migrations) -> None:
    """The models and the migrations agree: on the database at `database_url`, migrated to head first,
    autogenerate finds nothing to write (a model changed without its migration fails here)."""
    migrations.upgrade(database_url)
    command.check(migrations.config(database_url))


def active_queries(database_url: str, starting_with: str) -> int:
    """How many statements starting with `starting_with` (say "COPY") the database is running now."""
    name = make_url(database_url).database
    with psycopg.connect(libpq_url(database_url)) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE %s AND state = 'active'",
            (name, f"{starting_with}%"),
        ).fetchone()
    return int(row[0]) if row else 0


def terminate_queries(database_url: str, starting_with: str) -> None:
    """Kills the backends running statements starting with `starting_with`, as a database failure would."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE %s AND pid <> pg_backend_pid()",
            (f"{starting_with}%",),
        )


@dataclass(frozen=True)
class DownloadServer:
    """A live server's downloads as its database sees them, for tests that wait on them to start or let go."""

    url: str
    database: Database
    database_url: str
    downloads: Downloads | None = None

    def idle(self) -> bool:
        """No download's query runs, every pooled connection is back and (given `downloads`) every slot free:
        a slot is given back after its connection, so a test that starts on a free pool may still be refused."""
        slots_free = self.downloads is None or self.downloads.slots_taken == 0
        pool_back = self.database.connections_out() == 0
        return slots_free and pool_back and active_queries(self.database_url, "COPY") == 0

    def copying(self, count: int) -> Callable[[], bool]:
        """A condition: exactly `count` downloads' queries are running."""
        return lambda: active_queries(self.database_url, "COPY") == count
