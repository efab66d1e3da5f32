"""`run.py migrate` on a database in use: a migration behind a long export gives way to the service's
readers instead of queueing them behind itself, tries again, and either succeeds once the export ends or
fails in one line with nothing of it applied; two runs at once never race. The migration is the fixture
service's 0002 (a column added to `notes`), run from 0001 by the fixture service's command line. The
quick tests run on both forms of a service's migrations (`BOTH_FORMS`): its own `alembic.ini` and `env.py`
(the fixture service), and a revisions folder the kit's alembic environment runs (the lean service,
`Migrations.of`); the slow ones, of giving way and racing, on the first form alone, since both forms hand
their connection to the one runner that gives way and takes the lock."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
from alembic import command
from sqlalchemy import text

from servicekit import Database, Migrations, ServiceCommands
from servicekit.migrations import MIGRATION_LOCK, MigrationLimits, migration_connection
from servicekit.settings import DatabaseSettings
from servicekit.testing import assert_migrated, eventually, temporary_database
from servicekit.testing.databases import libpq_url
from tests import fixture_service, lean_service
from tests.fixture_service import SPECIFICATION, FixtureSettings, create_app

KIT_TESTS = Path(__file__).resolve().parent.parent  # where `python -m tests.fixture_service` runs


BOTH_FORMS = pytest.mark.parametrize(
    "service", [fixture_service, lean_service], ids=["alembic.ini", "Migrations.of"], indirect=True
)


@pytest.fixture
def service(request: pytest.FixtureRequest) -> ModuleType:
    """The service whose migrations a test runs: `service.MIGRATIONS`, and `python -m {service.__name__}`."""
    module: ModuleType = getattr(request, "param", fixture_service)
    return module


@pytest.fixture
def migrations(service: ModuleType) -> Migrations:
    found: Migrations = service.MIGRATIONS
    return found


@pytest.fixture
def database_at_0001(server_url: str, migrations: Migrations) -> Iterator[str]:
    """A database of its own, at the revision before the one that alters `notes`."""
    with temporary_database(server_url) as url:
        migrations.upgrade(url, "0001")
        yield url


@pytest.fixture
def migrate(monkeypatch: pytest.MonkeyPatch, database_at_0001: str, migrations: Migrations) -> Callable[..., int]:
    """`migrate(**settings)`: the service's `run.py migrate` on that database, in this process."""

    def run(**settings: str) -> int:
        environment = {"ENVIRONMENT": "test", "DATABASE_URL": database_at_0001, **settings}
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return ServiceCommands(FixtureSettings, create_app, spec=SPECIFICATION, migrations=migrations).main(["migrate"])

    return run


@contextmanager
def an_export(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A long download's transaction: it has read `notes`, so it holds ACCESS SHARE on it until it ends."""
    with psycopg.connect(libpq_url(database_url)) as export:
        export.execute("SELECT count(*) FROM notes")
        yield export
        export.rollback()


def queued_on_notes(database_url: str) -> bool:
    """Whether a statement waits for a lock on `notes` (the migration's ALTER TABLE, behind the export)."""
    with psycopg.connect(libpq_url(database_url)) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'notes'::regclass"
        ).fetchone()
    return bool(row and row[0])


def waiting_for_the_migration_lock(database_url: str) -> bool:
    with psycopg.connect(libpq_url(database_url)) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s",
            (MIGRATION_LOCK,),
        ).fetchone()
    return bool(row and row[0])


def revision_and_title_column(database_url: str) -> tuple[str, bool]:
    with psycopg.connect(libpq_url(database_url)) as reader:
        revision = reader.execute("SELECT version_num FROM alembic_version").fetchone()
        title = reader.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'notes' AND column_name = 'title'"
        ).fetchone()
    assert revision
    assert title
    return revision[0], bool(title[0])


def in_a_thread(run: Callable[[], int]) -> tuple[threading.Thread, list[int]]:
    exit_status: list[int] = []
    thread = threading.Thread(target=lambda: exit_status.append(run()))
    thread.start()
    return thread, exit_status


def test_a_migration_behind_an_export_lets_new_reads_through_then_fails_in_one_line(
    migrate: Callable[..., int],
    migrations: Migrations,
    database_at_0001: str,
    make_settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The service's own reads, whose lock wait (2 s) would run out if they queued until the export ended.
    service = Database.from_settings(
        make_settings(database_url=database_at_0001, database_lock_timeout_seconds=2), migrations
    )
    with an_export(database_at_0001):
        migration, exit_status = in_a_thread(
            lambda: migrate(MIGRATION_LOCK_TIMEOUT_SECONDS="1", MIGRATION_ATTEMPTS="2")
        )
        assert eventually(lambda: queued_on_notes(database_at_0001))
        # A new read, behind the queued ALTER TABLE, gets its answer while the export still runs.
        with service.session() as session:
            assert session.scalar(text("SELECT count(*) FROM notes")) == 0
        migration.join()
    service.dispose()
    assert exit_status == [1]
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("run.py: migrate gave up after 2 attempts in ")
    assert "past 1 s (MIGRATION_LOCK_TIMEOUT_SECONDS); the database is at revision 0001, nothing of the next" in line
    assert revision_and_title_column(database_at_0001) == ("0001", False)


def test_a_migration_behind_an_export_succeeds_once_the_export_ends(
    migrate: Callable[..., int], database_at_0001: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with an_export(database_at_0001):
        migration, exit_status = in_a_thread(
            lambda: migrate(MIGRATION_LOCK_TIMEOUT_SECONDS="0.5", MIGRATION_ATTEMPTS="5")
        )
        assert eventually(lambda: queued_on_notes(database_at_0001))
        assert eventually(lambda: not queued_on_notes(database_at_0001))  # it gave way, and will try again
    migration.join()
    assert exit_status == [0]
    assert "migration gave way to the service" in capsys.readouterr().out
    assert revision_and_title_column(database_at_0001) == ("0004", True)  # the title, the audit table, the notices


def test_two_migrate_jobs_never_race_the_second_waits_then_finds_nothing_to_do(
    service: ModuleType, database_at_0001: str
) -> None:
    environment = os.environ | {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_at_0001,
        "MIGRATION_LOCK_TIMEOUT_SECONDS": "0.5",
        "MIGRATION_ATTEMPTS": "10",
    }

    def job() -> subprocess.Popen[str]:
        arguments = [sys.executable, "-m", service.__name__, "migrate"]
        return subprocess.Popen(arguments, cwd=KIT_TESTS, env=environment, stdout=subprocess.PIPE, text=True)

    with an_export(database_at_0001):  # keeps the first run at its ALTER TABLE until the second is waiting
        first = job()
        assert eventually(lambda: queued_on_notes(database_at_0001), 30)
        second = job()
        assert eventually(lambda: waiting_for_the_migration_lock(database_at_0001), 30)
    first_output, _ = first.communicate(timeout=120)
    second_output, _ = second.communicate(timeout=120)
    assert (first.returncode, second.returncode) == (0, 0)
    assert "migration gave way" in first_output
    assert "another migration run holds the migration lock: waiting for it" in second_output
    assert "migration gave way" not in second_output  # it had nothing left to run
    assert revision_and_title_column(database_at_0001) == ("0004", True)  # the title, the audit table, the notices


@BOTH_FORMS
def test_a_run_waits_for_another_no_longer_than_a_statement_may_run(
    migrate: Callable[..., int], database_at_0001: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(libpq_url(database_at_0001), autocommit=True) as other_run:
        other_run.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        assert migrate(COMMAND_STATEMENT_TIMEOUT_SECONDS="0.5") == 1
    assert capsys.readouterr().err == (
        "run.py: migrate waited over 0.5 s for another migration run to finish"
        " (COMMAND_STATEMENT_TIMEOUT_SECONDS) and applied nothing\n"
    )
    assert revision_and_title_column(database_at_0001) == ("0001", False)


@BOTH_FORMS
def test_a_migration_connection_has_the_command_statement_timeout_and_a_short_lock_timeout(
    make_settings, database_at_0001: str
) -> None:
    settings: DatabaseSettings = make_settings(database_url=database_at_0001)
    with migration_connection(database_at_0001, MigrationLimits.from_settings(settings), "migrate") as connection:
        assert connection.scalar(text("SHOW statement_timeout")) == "1h"
        assert connection.scalar(text("SHOW lock_timeout")) == "3s"


@BOTH_FORMS
def test_a_test_database_is_made_at_head_and_readiness_finds_it_there(server_url: str, migrations: Migrations) -> None:
    assert migrations.heads() == {"0004"}
    with temporary_database(server_url, migrations) as url:  # what ServiceUnderTest(migrations=...) makes
        assert_migrated(url, migrations)


@BOTH_FORMS
def test_the_embedded_sqlite_database_is_migrated_without_a_lock(migrations: Migrations, tmp_path: Path) -> None:
    file = tmp_path / "var" / "service.sqlite3"
    migrations.upgrade(f"sqlite:///{file}")
    assert_migrated(f"sqlite:///{file}", migrations)
    command.downgrade(migrations.config(f"sqlite:///{file}"), "0001")
    with closing(sqlite3.connect(file)) as database:
        assert database.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
        assert "title" not in {row[1] for row in database.execute("PRAGMA table_info(notes)")}


def test_the_lean_service_s_models_and_its_migrations_agree(server_url: str) -> None:
    """The models' MetaData and the `include_object` option reach the kit's alembic environment."""
    with temporary_database(server_url, lean_service.MIGRATIONS) as url:
        command.check(lean_service.MIGRATIONS.config(url))  # raises when autogenerate would write a migration
