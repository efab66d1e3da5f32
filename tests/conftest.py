"""The test harness: a real PostgreSQL + PostGIS database, the app, and clients sync, async and live.

The database is made once per run from the alembic migrations; each test that writes through
`db_session` does so in a transaction rolled back after it. No PostgreSQL means a failed run,
never a skipped one: `make test` (scripts/test_database.sh) starts and prepares it first.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import connexion
import httpx
import jinja2
import psycopg
import pytest
import uvicorn
import yaml
from asgi_lifespan import LifespanManager
from sqlalchemy import Connection, make_url
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from app import create_app
from app.auth.tokens import READ_PERMISSION
from app.database import Database, migrate
from app.demo_data import seed_demo
from app.lifecycle import Lifecycle
from app.server import uvicorn_config
from app.swagger_ui import spec_arguments
from config import PROJECT_ROOT, Settings, load_settings
from tests.fake_entra import API_CLIENT_ID, API_URI, FakeEntra

FIXTURE_API = Path(__file__).parent / "fixture_api.yml"
TEST_ORIGIN = "https://portal.example"
DEMO_PREMISES = 3000
DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _libpq(url: str) -> str:
    """A URL psycopg and psql understand (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url() -> str:
    """The PostgreSQL server the run may create databases on (TEST_DATABASE_URL, else local)."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER_URL)
    try:
        psycopg.connect(_libpq(url), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"no PostgreSQL at {make_url(url)!r}; run `make test` or set TEST_DATABASE_URL: {exc}")
    return url


def create_database(server_url: str, migrated: bool = True) -> str:
    """A new, uniquely named database on the test server, migrated to head unless asked not to."""
    name = f"directmail_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    database_url = url.render_as_string(hide_password=False)
    if migrated:
        migrate(database_url)
    return database_url


def drop_database(server_url: str, database_url: str) -> None:
    with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)')


def assert_migrated(database_url: str) -> None:
    database = Database(database_url, timeout_seconds=2)
    try:
        assert database.unready_reason() is None
    finally:
        database.dispose()


def seed(database_url: str, premises: int) -> None:
    database = Database(database_url, timeout_seconds=5)
    try:
        with database.engine.begin() as connection:
            seed_demo(connection, premises)
    finally:
        database.dispose()


@contextmanager
def demo_database(server_url: str, premises: int) -> Iterator[str]:
    """A migrated database holding the demo data with `premises` premises, dropped afterwards."""
    url = create_database(server_url)
    try:
        seed(url, premises)
        yield url
    finally:
        drop_database(server_url, url)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """The session's PostGIS database, built by running the alembic migrations, with the demo data."""
    with demo_database(server_url, DEMO_PREMISES) as url:
        yield url


def rendered_spec(settings: Settings) -> dict[str, Any]:
    """api-spec.yml with its Jinja placeholders filled in from `settings`, as Connexion loads it."""
    template = jinja2.Template((PROJECT_ROOT / "api-spec.yml").read_text())
    spec: dict[str, Any] = yaml.safe_load(template.render(spec_arguments(settings)))
    return spec


def settings_for_tests(database_url: str, **overrides: object) -> Settings:
    """Settings for tests: the test environment, no `.env`, and the given overrides."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "cors_origins": TEST_ORIGIN,
        "elastic_apm_server_url": "",  # a developer's own APM server must not receive the tests' traffic
        "_env_file": None,
    }
    return load_settings(**(values | overrides))


def build_app(settings: Settings, lifecycle: Lifecycle | None = None) -> connexion.FlaskApp:
    """The real app plus the test-only API at /_test (tests/fixture_api.yml)."""
    app = create_app(settings, lifecycle)
    app.add_api(FIXTURE_API, base_path="/_test")
    return app


@pytest.fixture(scope="session")
def fake_entra() -> Iterator[FakeEntra]:
    """Entra ID's stand-in for the session: the tenant whose tokens the `app` fixture trusts."""
    entra = FakeEntra().start()
    yield entra
    entra.stop()


def trusting(entra: FakeEntra) -> dict[str, object]:
    """Settings overrides that make an app trust `entra`'s tokens."""
    return {
        "auth_tenant_id": entra.tenant,
        "auth_audience": f"{API_URI},{API_CLIENT_ID}",
        "auth_jwks_url": entra.jwks_url,
    }


@pytest.fixture(scope="session")
def settings(database_url: str, fake_entra: FakeEntra) -> Settings:
    return settings_for_tests(database_url, **trusting(fake_entra))


@pytest.fixture
def make_token(fake_entra: FakeEntra) -> Callable[..., str]:
    """`make_token(**claims)`: a token the app trusts, with claims overridden (or removed with None)."""
    return fake_entra.make_token


@pytest.fixture
def auth_headers(fake_entra: FakeEntra) -> Callable[..., dict[str, str]]:
    """`auth_headers(roles=[...], **claims)`: headers carrying a trusted token with those app roles."""

    def headers(roles: Sequence[str] = (READ_PERMISSION,), **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {fake_entra.make_token(roles=list(roles), **claims)}"}

    return headers


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[connexion.FlaskApp]:
    app = build_app(settings)
    yield app
    app.app.extensions["database"].dispose()  # what db_session borrowed outside any lifespan


@pytest.fixture
def database(app: connexion.FlaskApp) -> Database:
    database: Database = app.app.extensions["database"]
    return database


@pytest.fixture
def client(app: connexion.FlaskApp) -> Iterator[TestClient]:
    """Connexion's test client, with the app's lifespan running."""
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def async_client(app: connexion.FlaskApp) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx AsyncClient over ASGI with the app's lifespan (use with `@pytest.mark.anyio`).

    Like the sync client it buffers whole bodies: streaming, timing and disconnects need `live_server`.
    """
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://directmail.test") as async_client:
            yield async_client


@contextmanager
def socket_that_refuses() -> Iterator[int]:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    yield port


@contextmanager
def socket_that_never_answers() -> Iterator[int]:
    """A loopback port that accepts connections and then says nothing, like a hung database."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:
        yield silent.getsockname()[1]


class LiveServer:
    """A real uvicorn serving an app on a free loopback port, in a thread of the test process."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        host, port = self.socket.getsockname()
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn_config(app, settings))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the live server failed to start")
            threading.Event().wait(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


@pytest.fixture(scope="session")
def live_server(database_url: str, fake_entra: FakeEntra) -> Iterator[LiveServer]:
    """Its own app instance, so its lifespan never overlaps the other clients'."""
    settings = settings_for_tests(database_url, **trusting(fake_entra))
    with LiveServer(build_app(settings), settings) as server:
        yield server


@pytest.fixture
def db_connection(database: Database) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test; the app's sessions join it."""
    original = dict(database.sessions.kw)
    with database.engine.connect() as connection:
        transaction = connection.begin()
        database.sessions.configure(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield connection
        finally:
            database.sessions.kw.clear()
            database.sessions.kw.update(original)
            transaction.rollback()


@pytest.fixture
def db_session(database: Database, db_connection: Connection) -> Iterator[Session]:
    """A session whose writes vanish after the test, seen by the app's own sessions too."""
    with database.sessions() as session:
        yield session
