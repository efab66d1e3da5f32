"""Every statement, lock wait and readiness check ends by itself: no request holds a thread or a
connection for as long as the database likes."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

import httpx2
import psycopg
import pytest
from sqlalchemy import make_url

from servicekit import Database
from servicekit.database import psycopg_connection
from servicekit.testing import SwitchableLink, assert_problem, eventually, socket_that_never_answers
from servicekit.testing.databases import libpq_url
from tests.fixture_service import MIGRATIONS, create_app

# As an administrator would: pg_cancel_backend, on this run's database alone (the server may be shared).
# The sleep this test began: an earlier test's connection cut under its sleep leaves the backend sleeping on.
CANCEL_THE_SLEEP = """
    SELECT pg_cancel_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep%%' AND query_start >= %s
"""


def assert_database_unavailable(response: httpx2.Response) -> None:
    assert_problem(response, 503, retry_after="10")


def test_a_statement_past_its_timeout_is_a_504_that_invites_no_retry(
    make_settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with create_app(make_settings(database_statement_timeout_seconds=0.3)).test_client() as client:
        started = time.monotonic()
        response = client.get("/database-sleep?seconds=20")
        assert time.monotonic() - started < 5
        body = assert_problem(response, 504)
        assert "Retry-After" not in response.headers  # the same request would run as long again
        assert body["detail"].startswith("The database did not finish this request's query within the time")
        assert client.get("/database-sleep?seconds=0").status_code == 200  # the pool is still fine
    logged = capsys.readouterr().out
    assert "QueryCanceled" in logged
    assert '"timed_out":true' in logged


def test_a_statement_cancelled_by_anyone_else_is_a_503_to_retry(make_settings, database_url: str) -> None:
    with (
        psycopg.connect(libpq_url(database_url), autocommit=True) as administrator,
        create_app(make_settings()).test_client() as client,
    ):
        began = administrator.execute("SELECT clock_timestamp()").fetchone()
        canceller = threading.Thread(
            target=eventually, args=(lambda: bool(administrator.execute(CANCEL_THE_SLEEP, began).fetchall()),)
        )
        canceller.start()
        assert_database_unavailable(client.get("/database-sleep?seconds=20"))
        canceller.join()


def test_a_lock_wait_past_its_timeout_is_a_503(
    make_settings, database_url: str, auth_headers, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(libpq_url(database_url)) as holder:
        holder.execute("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE")
        with create_app(make_settings(database_lock_timeout_seconds=0.3)).test_client() as client:
            started = time.monotonic()
            assert_database_unavailable(client.get("/notes", headers=auth_headers()))
            assert time.monotonic() - started < 5
        holder.rollback()
    logged = capsys.readouterr().out
    assert "LockNotAvailable" in logged
    assert '"timed_out":true' in logged


def test_connections_carry_the_limits_and_tcp_timeouts(make_settings) -> None:
    app = create_app(make_settings())
    with app.parts.get(Database).engine.connect() as connection:
        driver = psycopg_connection(connection)
        assert driver.execute("SHOW statement_timeout").fetchone() == ("15s",)
        assert driver.execute("SHOW lock_timeout").fetchone() == ("5s",)
        parameters = driver.info.get_parameters()
        tcp = ("keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout")
        assert [parameters[name] for name in tcp] == ["1", "10", "5", "3", "25000"]
    app.parts.get(Database).dispose()


def test_command_line_work_gets_the_long_statement_timeout_and_requests_keep_theirs(make_settings) -> None:
    settings = make_settings(command_statement_timeout_seconds=7200)
    for database, statement_timeout in (
        (Database.for_command(settings, MIGRATIONS), "2h"),
        (Database.from_settings(settings, MIGRATIONS), "15s"),
    ):
        with database.engine.connect() as connection:
            driver = psycopg_connection(connection)
            assert driver.execute("SHOW statement_timeout").fetchone() == (statement_timeout,)
            assert driver.execute("SHOW lock_timeout").fetchone() == ("5s",)
        database.dispose()


def test_readiness_answers_while_requests_hold_every_pooled_connection(make_settings) -> None:
    app = create_app(make_settings())
    database = app.parts.get(Database)
    with app.test_client() as client, ExitStack() as held:
        for _ in range(database.engine.pool.size()):  # type: ignore[attr-defined]
            held.enter_context(database.engine.connect())
        started = time.monotonic()
        assert client.get("/readyz").status_code == 200
        assert time.monotonic() - started < database.timeout_seconds


def test_a_readiness_check_past_its_time_leaves_no_thread_behind(make_settings) -> None:
    with socket_that_never_answers() as port:
        settings = make_settings(
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/none", database_timeout_seconds=0.5
        )
        with create_app(settings).test_client() as client:
            before = set(threading.enumerate())
            started = time.monotonic()
            readiness = client.get("/readyz")
            assert time.monotonic() - started < 2
            assert readiness.status_code == 200
            assert readiness.json()["database"] == "unavailable"
            # Threads of earlier tests may end meanwhile; none may have been started for this check.
            assert set(threading.enumerate()) - before == set()


def test_a_lost_database_is_a_503_until_it_is_back_and_no_restart_is_needed(
    make_settings, database_url: str, auth_headers
) -> None:
    url = make_url(database_url)
    link = SwitchableLink(url.host or "127.0.0.1", url.port or 5432)
    settings = make_settings(
        database_url=url.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
    )
    try:
        with create_app(settings).test_client() as client:
            assert client.get("/readyz").status_code == 200
            assert client.get("/notes", headers=auth_headers()).status_code == 200
            link.cut()
            # Ready all the same: every pod sees the same outage, and the pod answers 503 itself.
            assert client.get("/readyz").json() == {"status": "ok", "database": "unavailable"}
            assert client.get("/healthz").status_code == 200
            assert_database_unavailable(client.get("/notes", headers=auth_headers()))
            link.restore()
            assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}
            assert client.get("/notes", headers=auth_headers()).status_code == 200
    finally:
        link.close()
