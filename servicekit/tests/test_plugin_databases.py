"""The pytest plugin's databases: a service's suite (run here in a process of its own, as its CI runs it)
leaves no connection open whichever fixtures its tests pair, names its databases with the configured
prefix and drops them, even when a migration fails, and cannot quietly test on SQLite instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from servicekit.migrations import Migrations
from servicekit.testing import ServiceUnderTest, temporary_database
from servicekit.testing.databases import libpq_url, valid_prefix
from tests.fixture_service import ROOT, SPECIFICATION, FixtureSettings, create_app

KIT_TESTS = Path(__file__).resolve().parents[1]  # where `tests.fixture_service` imports from

INNER_INI = """[pytest]
filterwarnings =
    error
    ignore:jsonschema\\..* is deprecated:DeprecationWarning
servicekit_database_prefix = {prefix}
"""

INNER_CONFTEST = """
import pytest
from servicekit.testing import ServiceUnderTest
from tests.fixture_service import MIGRATIONS, SPECIFICATION, FixtureSettings, create_app


@pytest.fixture(scope="session")
def service_under_test():
    return ServiceUnderTest(FixtureSettings, create_app, spec=SPECIFICATION{migrations})
"""

EVERY_PAIR = """
import gc

import pytest


def test_db_connection_and_client(db_connection, client):
    pass


def test_db_session_and_client(db_session, client):
    pass


@pytest.mark.anyio
async def test_db_connection_and_async_client(db_connection, async_client):
    pass


@pytest.mark.anyio
async def test_db_session_and_async_client(db_session, async_client):
    pass


def test_db_connection_and_live_server(db_connection, live_server):
    pass


def test_db_session_and_live_server(db_session, live_server):
    pass


def test_db_connection_and_db_session(db_connection, db_session):
    pass


def test_the_database_carries_the_prefix(database_url):
    assert database_url.rsplit("/", 1)[1].startswith("{prefix}")


def test_last_nothing_is_left_open():
    gc.collect()  # a connection left unclosed warns as it goes: `filterwarnings = error` fails this test
"""


def inner_run(folder: Path, prefix: str, *, migrations: bool = True, tests: str = EVERY_PAIR) -> str:
    """Runs the suite written into `folder` in a pytest of its own; its whole output."""
    (folder / "pytest.ini").write_text(INNER_INI.format(prefix=prefix))
    (folder / "conftest.py").write_text(INNER_CONFTEST.format(migrations=", migrations=MIGRATIONS" * migrations))
    (folder / "test_inner.py").write_text(tests.replace("{prefix}", prefix))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env=os.environ | {"PYTHONPATH": str(KIT_TESTS)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return f"exit {run.returncode}\n{run.stdout}{run.stderr}"


def databases_named(server_url: str, prefix: str) -> list[str]:
    with psycopg.connect(libpq_url(server_url)) as admin:
        rows = admin.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,))
        return [name for (name,) in rows]


def unique_prefix() -> str:
    return f"kit_{uuid.uuid4().hex[:8]}_"


@pytest.mark.slow
def test_no_pair_of_fixtures_leaves_a_connection_open(tmp_path: Path, server_url: str) -> None:
    prefix = unique_prefix()
    output = inner_run(tmp_path, prefix)
    assert output.startswith("exit 0"), output
    assert "9 passed" in output, output
    assert "Exception ignored" not in output, output
    assert databases_named(server_url, prefix) == []  # the run's database is dropped at its end


@pytest.mark.slow
def test_a_database_service_without_migrations_fails_the_run_at_once(tmp_path: Path) -> None:
    output = inner_run(tmp_path, unique_prefix(), migrations=False)
    assert output.startswith(f"exit {pytest.ExitCode.USAGE_ERROR.value}"), output
    assert "FixtureSettings is a DatabaseSettings" in output
    assert "migrations=MIGRATIONS" in output
    assert " passed" not in output  # no test ran, on SQLite or otherwise
    assert " error" not in output
    assert not list(tmp_path.rglob("*.sqlite3"))


def test_the_service_under_test_says_what_a_database_service_lacks() -> None:
    with pytest.raises(ValueError, match=r"pass the service's migrations: ServiceUnderTest\(.*migrations="):
        ServiceUnderTest(FixtureSettings, create_app, spec=SPECIFICATION)


def test_a_failed_migration_leaves_no_database(tmp_path: Path, server_url: str) -> None:
    shutil.copytree(ROOT / "migrations", tmp_path / "migrations")
    shutil.copy(ROOT / "alembic.ini", tmp_path / "alembic.ini")
    (head,) = Migrations(ROOT / "alembic.ini").heads()
    (tmp_path / "migrations" / "versions" / "0099_broken.py").write_text(BROKEN_MIGRATION.format(head=head))
    prefix = unique_prefix()
    broken = Migrations(tmp_path / "alembic.ini")
    with pytest.raises(Exception, match="no_such_table"), temporary_database(server_url, broken, prefix):
        pass
    assert databases_named(server_url, prefix) == []


BROKEN_MIGRATION = """
from alembic import op

revision = "0099"
down_revision = "{head}"


def upgrade():
    op.execute("ALTER TABLE no_such_table ADD COLUMN never text")
"""


@pytest.mark.parametrize("prefix", ["", "Upper_", "has-dash_", "9starts_with_a_digit", "x" * 41])
def test_a_prefix_that_cannot_start_a_database_name_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="a test database prefix is"):
        valid_prefix(prefix)
