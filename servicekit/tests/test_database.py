"""The database harness the plugin gives: PostGIS via the service's migrations, pooled like Flask's
threads, each test's writes rolled back."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import nullcontext

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from servicekit import Database
from servicekit.database import database_error
from servicekit.testing import assert_migrated
from servicekit.testing.databases import libpq_url
from tests.fixture_service import MIGRATIONS, create_app


def test_migrations_enable_postgis(db_session: Session) -> None:
    assert db_session.scalar(text("SELECT postgis_lib_version()"))
    assert db_session.scalar(text("SELECT ST_SRID(ST_SetSRID(ST_MakePoint(400000, 200000), 27700))")) == 27700


@pytest.mark.parametrize("worker_threads", [10, 16])
def test_the_pool_matches_flasks_threads(make_settings, worker_threads: int) -> None:
    app = create_app(make_settings(worker_threads=worker_threads))
    # Connexion keeps its a2wsgi bridge private; reading it here catches a release that moves it.
    assert app._middleware_app.asgi_app.executor._max_workers == worker_threads
    assert app.parts.get(Database).engine.pool.size() == worker_threads  # type: ignore[attr-defined]
    app.parts.get(Database).dispose()


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_test_starts_from_a_clean_database(db_session: Session, database: Database, attempt: int) -> None:
    """Run twice: the second run fails if the first one's write survived."""
    count = text("SELECT count(*) FROM notes")
    assert db_session.scalar(count) == 0
    db_session.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": f"attempt {attempt}"})
    db_session.commit()  # a real commit: the plugin empties the table again after the test
    with database.session() as app_session:  # the app's own sessions see the test's writes
        assert app_session.scalar(count) == 1


def test_migrations_build_an_embedded_database_in_a_new_folder(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'service.sqlite3'}"
    MIGRATIONS.upgrade(url)
    assert_migrated(url, MIGRATIONS)


def test_readiness_shows_the_details_query_beside_its_status(database_url: str) -> None:
    database = Database(
        database_url,
        MIGRATIONS,
        timeout_seconds=2,
        application_name="servicekit-tests",
        readiness_details="SELECT 42 AS answer, now() AS checked_at, NULL AS never",
    )
    try:
        readiness = asyncio.run(database.check_readiness())
    finally:
        database.dispose()
    assert readiness.reason is None
    assert readiness.details["answer"] == 42
    assert dt.datetime.fromisoformat(readiness.details["checked_at"]).tzinfo is not None
    assert readiness.details["never"] is None


def test_a_database_error_is_told_in_one_line_without_the_statement_or_its_values(db_session: Session) -> None:
    with pytest.raises(SQLAlchemyError) as failed:
        db_session.execute(text("SELECT 1 / (:divisor - 42) FROM no_such_table"), {"divisor": 42})
    assert "[SQL: SELECT 1 / " in str(failed.value)  # SQLAlchemy's own message quotes the statement ...
    assert database_error(failed.value) == 'relation "no_such_table" does not exist'  # ... the summary does not


def command_connections(database_url: str, application_name: str) -> int:
    with psycopg.connect(libpq_url(database_url)) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [application_name],
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("ends", ["well", "raising"])
def test_a_commands_database_closes_its_connections_when_its_block_ends(
    make_settings, database_url: str, ends: str
) -> None:
    settings = make_settings()
    name = f"{settings.service_name} command"
    failing = pytest.raises(RuntimeError) if ends == "raising" else nullcontext()
    with failing, Database.for_command(settings, MIGRATIONS) as database:
        with database.session() as session:
            session.execute(text("SELECT 1"))
        assert command_connections(database_url, name) == 1  # pooled, kept open
        if ends == "raising":
            raise RuntimeError("the command failed")
    assert command_connections(database_url, name) == 0
