"""Directmail's tests run on the kit's pytest plugin (servicekit.testing.plugin): a real PostgreSQL +
PostGIS database built by Directmail's migrations, Entra ID on loopback, and the app behind sync, async
and live clients. This file says what to test and adds the demo data."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app import MIGRATIONS, SPECIFICATION, create_app
from app.demo_data import seed_demo
from config import Settings
from servicekit import Database
from servicekit.testing import ServiceUnderTest, temporary_database

DEMO_PREMISES = 3000


def pytest_configure() -> None:
    # Hypothesis writes its example database and caches as it collects: a folder of the machine's, kept
    # between runs, rather than .hypothesis/ in the checkout.
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "directmail-hypothesis"))


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest[Settings]:
    return ServiceUnderTest(Settings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS)


def seed(database_url: str, premises: int) -> None:
    database = Database(database_url, MIGRATIONS, timeout_seconds=5, application_name="directmail-tests")
    try:
        seed_demo(database.engine, premises)
    finally:
        database.dispose()


@contextmanager
def demo_database(server_url: str, premises: int, prefix: str) -> Iterator[str]:
    """A migrated database holding the demo data with `premises` premises, dropped afterwards."""
    with temporary_database(server_url, MIGRATIONS, prefix) as url:
        seed(url, premises)
        yield url


@pytest.fixture(scope="session")
def database_url(server_url: str, database_prefix: str) -> Iterator[str]:
    """The session's PostGIS database, built by Directmail's migrations, with the demo data: the baseline
    the plugin puts back after every test."""
    with demo_database(server_url, DEMO_PREMISES, database_prefix) as url:
        yield url


@pytest.fixture
def staff(auth_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    """Headers of a marketing user whose token grants Directmail.Read."""
    return auth_headers(roles=["Directmail.Read"])
