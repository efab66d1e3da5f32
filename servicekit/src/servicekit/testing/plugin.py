"""The kit's pytest plugin (loaded through the `pytest11` entry point): a service's tests get a real
PostgreSQL + PostGIS database, Entra ID and APM stand-ins on loopback, tokens, and the app behind sync,
async and live clients. A service's `conftest.py` only says what to test:

    @pytest.fixture(scope="session")
    def service_under_test() -> ServiceUnderTest[Settings]:
        return ServiceUnderTest(Settings, create_app, spec=SPEC, migrations=MIGRATIONS)

Every test starts from the run's database as it was built (and seeded), whatever earlier tests wrote
(`isolated_database`). No PostgreSQL means a failed run, never a skipped one.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Connection, Engine, create_engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from starlette.testclient import TestClient

from servicekit.app import ServiceApp
from servicekit.auth import permissions
from servicekit.database import Database
from servicekit.settings import ServiceSettings
from servicekit.spec import configured_spec
from servicekit.testing.commands import COMMAND_TIMEOUT_SECONDS, run_service_command
from servicekit.testing.databases import (
    DEFAULT_PREFIX,
    DEFAULT_REPLICA_URL,
    DEFAULT_SERVER_URL,
    libpq_url,
    temporary_database,
    valid_prefix,
)
from servicekit.testing.fake_apm import FakeApmServer
from servicekit.testing.fake_entra import FakeEntra
from servicekit.testing.isolation import Baseline
from servicekit.testing.servers import LiveServer, LoggedServer
from servicekit.testing.service import MissingMigrations, ServiceUnderTest, setting_variables, settings_for_tests

pytest_plugins = ["servicekit.testing.exit_watchdog"]

Headers = dict[str, str]

PREFIX_OPTION = "servicekit_database_prefix"
BASELINES = pytest.StashKey[dict[str, Baseline]]()
# Whether a fixture wider than a test was set up or torn down since the last test: only such a fixture can
# have written to the database between two tests, so only then is the baseline looked at again.
WIDER_FIXTURES_RAN = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        PREFIX_OPTION,
        "what the names of the run's test databases start with (one per checkout or CI job sharing a server)",
        default=DEFAULT_PREFIX,
    )


def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> None:
    if fixturedef.scope != "function":
        request.config.stash[WIDER_FIXTURES_RAN] = True


def pytest_fixture_post_finalizer(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> None:
    if fixturedef.scope != "function":
        request.config.stash[WIDER_FIXTURES_RAN] = True


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest[Any]:
    """What the fixtures test: override it in the service's conftest.py."""
    raise pytest.UsageError("define a `service_under_test` fixture in conftest.py (see servicekit.testing.plugin)")


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The run reads nothing of the developer's machine and writes nothing into the checkout, in this
    process and in the ones it starts: the variables naming a setting of the service under test (and the
    APM agent's ELASTIC_APM_*) are removed, no `.env` is read (SERVICEKIT_ENV_FILE is set empty), and the
    local files (the dev login's key) go to a folder of the run's own (LOCAL_FILES_DIR)."""
    names = setting_variables(_settings_class(request))
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper() in names or name.upper().startswith("ELASTIC_APM_"):
                patch.delenv(name)
        patch.setenv("SERVICEKIT_ENV_FILE", "")
        patch.setenv("LOCAL_FILES_DIR", str(tmp_path_factory.mktemp("local-files")))
        yield


def _settings_class(request: pytest.FixtureRequest) -> type[ServiceSettings]:
    try:
        settings_class: type[ServiceSettings] = request.getfixturevalue("service_under_test").settings_class
    except pytest.UsageError:  # no service to test here: the kit's own settings still apply
        return ServiceSettings
    except MissingMigrations as exc:  # every test would fail alike: say it once
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
    return settings_class


@pytest.fixture(scope="session")
def server_url() -> str:
    """The PostgreSQL server the run may create databases on (TEST_DATABASE_URL, else the local one)."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER_URL)
    try:
        psycopg.connect(libpq_url(url), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"no PostgreSQL at {make_url(url)!r}; start one or set TEST_DATABASE_URL: {exc}")
    return url


@pytest.fixture(scope="session")
def replica_server_url(server_url: str) -> str:
    """A streaming replica of the test server (TEST_DATABASE_READ_URL, else one on 127.0.0.1:5433)."""
    url = os.environ.get("TEST_DATABASE_READ_URL", DEFAULT_REPLICA_URL)
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=5) as replica:
            row = replica.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.OperationalError as exc:
        pytest.fail(f"no PostgreSQL replica at {make_url(url)!r}; start one or set TEST_DATABASE_READ_URL: {exc}")
    if not (row and row[0]):
        pytest.fail(f"{make_url(url)!r} is not a replica (it is not in recovery)")
    return url


@pytest.fixture(scope="session")
def database_prefix(pytestconfig: pytest.Config) -> str:
    """What the run's database names start with: the `servicekit_database_prefix` ini option."""
    try:
        return valid_prefix(str(pytestconfig.getini(PREFIX_OPTION)))
    except ValueError as exc:
        raise pytest.UsageError(f"{PREFIX_OPTION}: {exc}") from None


@pytest.fixture(scope="session")
def database_url(server_url: str, database_prefix: str, service_under_test: ServiceUnderTest[Any]) -> Iterator[str]:
    """The run's database, built by the service's migrations (override it to add data: what it holds once
    made is the baseline every test starts from)."""
    with temporary_database(server_url, service_under_test.migrations, database_prefix) as url:
        yield url


@pytest.fixture(autouse=True)
def isolated_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that can reach the service's database, its tables and sequences are put back as the
    test found them, whoever wrote to them (see servicekit.testing.isolation): as the run's database was
    built and seeded, plus what fixtures wider than a test (a module's) wrote for their tests."""
    if not {"database_url", "make_settings"} & set(request.fixturenames):
        yield
        return
    if not request.getfixturevalue("service_under_test").migrations:
        yield
        return
    url: str = request.getfixturevalue("database_url")
    baselines = request.config.stash.setdefault(BASELINES, {})
    if url not in baselines:
        baselines[url] = Baseline(url)
    elif request.config.stash.get(WIDER_FIXTURES_RAN, True):
        baselines[url].update()
    request.config.stash[WIDER_FIXTURES_RAN] = False
    yield
    baselines[url].restore()


@pytest.fixture(scope="session")
def fake_entra() -> Iterator[FakeEntra]:
    """Entra ID's stand-in for the run: the tenant whose tokens the `settings` trust."""
    entra = FakeEntra().start()
    yield entra
    entra.stop()


@pytest.fixture
def own_entra() -> Iterator[FakeEntra]:
    """An Entra ID stand-in of the test's own, free to rotate its keys, slow down or go down."""
    entra = FakeEntra().start()
    yield entra
    entra.stop()


@pytest.fixture
def fake_apm() -> Iterator[FakeApmServer]:
    """An Elastic APM intake server on loopback, keeping what the agent sends."""
    server = FakeApmServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def make_settings(
    request: pytest.FixtureRequest, service_under_test: ServiceUnderTest[Any], fake_entra: FakeEntra
) -> Callable[..., ServiceSettings]:
    """`make_settings(**overrides)`: the service's settings for tests, trusting `fake_entra`'s tokens, on
    the run's database when the service has one."""
    database = request.getfixturevalue("database_url") if service_under_test.migrations else ""

    def settings(**overrides: object) -> ServiceSettings:
        values = {"database_url": database, **fake_entra.trusted_by(), **overrides}
        made: ServiceSettings = settings_for_tests(service_under_test.settings_class, **values)
        return made

    return settings


@pytest.fixture(scope="session")
def settings(make_settings: Callable[..., ServiceSettings]) -> ServiceSettings:
    return make_settings()


@pytest.fixture(scope="session")
def app(service_under_test: ServiceUnderTest[Any], settings: ServiceSettings) -> Iterator[ServiceApp]:
    app = service_under_test.create_app(settings)
    yield app
    database = app.parts.find(Database)
    if database:
        database.dispose()  # what tests borrowed outside any lifespan (`database.session()` in a test)


@pytest.fixture
def client(app: ServiceApp) -> Iterator[TestClient]:
    """Connexion's test client, with the app's lifespan running."""
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def run_command(
    request: pytest.FixtureRequest, service_under_test: ServiceUnderTest[Any]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_command("close-day", "--day", "2026-12-07", timeout=60, **variables)`: the service's `run.py`
    (in pytest's rootdir) run as a job runner runs it, in a process of its own, with ENVIRONMENT=test and
    the run's database as DATABASE_URL (when the service has one); the finished process, its output as text."""
    database = {"DATABASE_URL": request.getfixturevalue("database_url")} if service_under_test.migrations else {}
    project = request.config.rootpath

    def run(
        *arguments: str, timeout: float = COMMAND_TIMEOUT_SECONDS, **variables: str
    ) -> subprocess.CompletedProcess[str]:
        return run_service_command(project, *arguments, timeout=timeout, **(database | variables))

    return run


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def async_client(app: ServiceApp) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx AsyncClient over ASGI with the app's lifespan (use with `@pytest.mark.anyio`).

    Like the sync client it buffers whole bodies: streaming, timing and disconnects need `live_server`."""
    # Imported here: it comes with the kit's `testing` extra, and the plugin loads wherever pytest runs.
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as async_client:
            yield async_client


@pytest.fixture(scope="session")
def live_server(service_under_test: ServiceUnderTest[Any], settings: ServiceSettings) -> Iterator[LiveServer]:
    """A real uvicorn on a loopback port, serving an app of its own, so its lifespan overlaps no other."""
    with LiveServer(service_under_test.create_app(settings), settings) as server:
        yield server


@pytest.fixture
def logged_server(
    service_under_test: ServiceUnderTest[Any],
    make_settings: Callable[..., ServiceSettings],
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., AbstractContextManager[LoggedServer]]:
    """`with logged_server(**overrides) as server`: the service on a real uvicorn, built inside the test so
    that its JSON log lines go to the captured stdout, where `server.audit_events()` and the like read them."""

    @contextmanager
    def serving(**overrides: object) -> Iterator[LoggedServer]:
        settings = make_settings(**overrides)
        with LiveServer(service_under_test.create_app(settings), settings) as live:
            yield LoggedServer(live.url, capsys)

    return serving


@pytest.fixture
def database(app: ServiceApp) -> Database:
    """The app's database."""
    return app.parts.get(Database)


@pytest.fixture
def db_engine(database: Database) -> Iterator[Engine]:
    """An engine of the test's own on the app's database: its connections close when given back, so none
    is left open whatever the app's pool does meanwhile (a client's lifespan disposes of it)."""
    engine = create_engine(database.engine.url, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def db_connection(database: Database, db_engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction rolled back after the test; the app's sessions join it (its read
    sessions too, unless they read from a replica, which never sees an uncommitted write). Downloads read
    on connections of their own and never see it: write what a download should find through `db_session`."""
    joining = [database.sessions] if database.has_replica else [database.sessions, database.read_sessions]
    originals = [dict(sessions.kw) for sessions in joining]
    with db_engine.connect() as connection:
        transaction = connection.begin()
        for sessions in joining:
            sessions.configure(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield connection
        finally:
            for sessions, original in zip(joining, originals, strict=True):
                sessions.kw.clear()
                sessions.kw.update(original)
            transaction.rollback()


@pytest.fixture
def db_session(database: Database, db_engine: Engine) -> Iterator[Session]:
    """A session like the app's own: what it commits, the app, its downloads and live servers see; the
    isolation takes it away after the test."""
    with database.sessions(bind=db_engine) as session:
        yield session


@pytest.fixture
def make_token(fake_entra: FakeEntra) -> Callable[..., str]:
    """`make_token(**claims)`: a token the app trusts, with claims overridden (or removed with None)."""
    return fake_entra.make_token


@pytest.fixture(scope="session")
def declared_permissions(service_under_test: ServiceUnderTest[Any], settings: ServiceSettings) -> list[str]:
    """Every permission the service's spec declares."""
    return permissions.declared_permissions(configured_spec(service_under_test.spec, settings))


@pytest.fixture
def auth_headers(fake_entra: FakeEntra, declared_permissions: list[str]) -> Callable[..., Headers]:
    """`auth_headers(roles=[...], scopes=[...], expires_in=3600, wrong_key=False, **claims)`: request
    headers carrying a token with those app roles (default: every permission the spec declares) and
    delegated scopes, expiring after `expires_in` seconds (negative: already expired), signed by the
    tenant's key or, with `wrong_key`, by one it never published."""

    def headers(
        roles: Sequence[str] | None = None,
        *,
        scopes: Sequence[str] = (),
        expires_in: int = 3600,
        wrong_key: bool = False,
        **claims: Any,
    ) -> Headers:
        token = fake_entra.make_token(
            key=fake_entra.forged_key() if wrong_key else None,
            roles=list(declared_permissions if roles is None else roles),
            scp=" ".join(scopes) or None,
            exp=int(time.time()) + expires_in,
            **claims,
        )
        return {"Authorization": f"Bearer {token}"}

    return headers
