"""A database that hangs (its host accepts connections and acknowledges what is sent, and never answers) or
is down, primary or replica: no request waits past the documented bound, the requests that need it get the
kit's 503 with Retry-After, the pod stays ready and says which database is unavailable, and what needs no
database (or only the other one) goes on answering. Every database is reached through a loopback link the
test hangs or cuts; the servers themselves are never stopped."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, text

from servicekit import Database
from servicekit.copy_out import copied_csv
from servicekit.database import Readiness
from servicekit.downloads import Producer
from servicekit.testing import LiveServer, SwitchableLink, assert_problem, on_server, replayed
from tests.fixture_service import MIGRATIONS, create_app, views

TIMEOUT_SECONDS = 1.0
# README, "Databases that hang": the watch notices within two DATABASE_TIMEOUT_SECONDS (its pause, then
# its unanswered SELECT 1), and a request whose pre-ping was cut then tries one new connection, which
# libpq gives up on after DATABASE_TIMEOUT_SECONDS rounded up, 2 s at least.
DOCUMENTED_BOUND_SECONDS = 2 * TIMEOUT_SECONDS + max(2, math.ceil(TIMEOUT_SECONDS))
# Scheduling on a busy 2-core test machine, on top of the documented bound.
SLACK_SECONDS = 1.0
ANSWERED_WITHOUT_A_DATABASE = ("/healthz", "/openapi.json", "/ui/")


@contextmanager
def link_to(url: str) -> Iterator[tuple[SwitchableLink, str]]:
    """A link to `url`'s server, and `url` through it."""
    parsed = make_url(url)
    link = SwitchableLink(parsed.host or "127.0.0.1", parsed.port or 5432)
    try:
        yield link, parsed.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
    finally:
        link.close()


@pytest.fixture
def primary_link(database_url: str) -> Iterator[tuple[SwitchableLink, str]]:
    with link_to(database_url) as linked:
        yield linked


@pytest.fixture
def replica_link(database_url: str, replica_server_url: str) -> Iterator[tuple[SwitchableLink, str]]:
    assert replayed(database_url, replica_server_url), "the replica did not catch up with the primary"
    with link_to(on_server(database_url, replica_server_url)) as linked:
        yield linked


def answers(server: LiveServer, paths: list[str], headers: dict[str, str]) -> list[tuple[httpx.Response, float]]:
    """Each of `paths` asked at once, with how long its answer took."""

    def ask(path: str) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = httpx.get(f"{server.url}{path}", headers=headers, timeout=60)
        return response, time.monotonic() - started

    with ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(ask, paths))


def answers_while_failing(
    server: LiveServer,
    headers: dict[str, str],
    fail: Callable[[], None],
    others: list[str],
    *,
    notes: int,
    sleeping: int = 4,
) -> tuple[list[tuple[httpx.Response, float]], list[tuple[httpx.Response, float]]]:
    """The database fails (`fail()`) with `sleeping` statements on their way; then `others` and `notes` GETs of
    /notes are asked. The answers to `others`, and those of every /notes and sleeping statement."""
    with ThreadPoolExecutor(sleeping) as in_flight:
        asleep = [in_flight.submit(answers, server, ["/database-sleep?seconds=3"], headers) for _ in range(sleeping)]
        time.sleep(0.5)
        fail()
        answered = answers(server, others, headers)
        return answered, answers(server, ["/notes"] * notes, headers) + [future.result()[0] for future in asleep]


def answers_again(server: LiveServer, path: str, headers: dict[str, str]) -> bool:
    """Whether `path` answers 200 again within the documented bound, once the database is back: a watch's
    check that began while it hung may still end in a cut just after (a 503 with Retry-After)."""
    deadline = time.monotonic() + DOCUMENTED_BOUND_SECONDS + SLACK_SECONDS
    while time.monotonic() < deadline:
        if answers(server, [path], headers)[0][0].status_code == 200:
            return True
        time.sleep(0.2)
    return False


def assert_database_unavailable(response: httpx.Response) -> None:
    assert_problem(response, 503, retry_after="10")
    assert response.json()["detail"] == "The database is unavailable; nothing was changed. Try again shortly."


@pytest.mark.parametrize("failure", ["hang", "cut"])
def test_a_primary_that_hangs_or_goes_answers_every_request_within_the_bound(
    failure: str, make_settings, primary_link: tuple[SwitchableLink, str], auth_headers: Callable[..., dict[str, str]]
) -> None:
    link, through_link = primary_link
    settings = make_settings(database_url=through_link, database_timeout_seconds=TIMEOUT_SECONDS, worker_threads=16)
    headers = auth_headers()
    with LiveServer(create_app(settings), settings) as server:
        # Pooled connections first, as a pod that has been serving has; then statements on their way.
        assert all(response.status_code == 200 for response, _ in answers(server, ["/notes"] * 8, headers))
        (readiness, *unaffected), notes = answers_while_failing(
            server, headers, getattr(link, failure), ["/readyz", "/caller", *ANSWERED_WITHOUT_A_DATABASE], notes=14
        )

        for response, seconds in notes:
            assert_database_unavailable(response)
            assert seconds < DOCUMENTED_BOUND_SECONDS + SLACK_SECONDS
        ready, seconds = readiness
        assert ready.status_code == 200
        assert ready.json()["database"] == "unavailable"
        assert seconds < TIMEOUT_SECONDS + SLACK_SECONDS
        assert [response.status_code for response, _ in unaffected] == [200] * 4

        link.restore()
        assert answers_again(server, "/notes", headers)  # no restart needed
        assert answers(server, ["/readyz"], headers)[0][0].json()["database"] == "ok"


@pytest.mark.parametrize("failure", ["hang", "cut"])
def test_a_replica_that_hangs_or_goes_leaves_the_primary_serving(
    failure: str, make_settings, replica_link: tuple[SwitchableLink, str], auth_headers: Callable[..., dict[str, str]]
) -> None:
    link, through_link = replica_link
    settings = make_settings(database_read_url=through_link, database_timeout_seconds=TIMEOUT_SECONDS)
    headers = auth_headers()
    with LiveServer(create_app(settings), settings) as server:
        assert answers(server, ["/numbers?rows=10"], headers)[0][0].status_code == 200
        getattr(link, failure)()
        (download, download_seconds), (notes, _), (readiness, readiness_seconds), *unaffected = answers(
            server, ["/numbers?rows=10", "/notes", "/readyz", "/caller", *ANSWERED_WITHOUT_A_DATABASE], headers
        )
        assert_database_unavailable(download)
        assert download_seconds < DOCUMENTED_BOUND_SECONDS + SLACK_SECONDS
        assert notes.status_code == 200  # on the primary
        assert readiness.status_code == 200
        assert readiness.json()["database"] == "ok"
        assert readiness.json()["read_replica"] == "unavailable"
        assert readiness_seconds < TIMEOUT_SECONDS + SLACK_SECONDS
        assert [response.status_code for response, _ in unaffected] == [200] * 4

        link.restore()
        assert answers_again(server, "/numbers?rows=10", headers)
        assert answers(server, ["/readyz"], headers)[0][0].json()["read_replica"] == "ok"


def numbers_in_runs(rows: int) -> Producer:
    """/numbers as four runs of one statement: a download that walks them on two backends."""
    statement = text("SELECT n FROM generate_series(1, :rows) AS n")
    return partial(copied_csv, statement=statement, parameter_sets=[{"rows": rows // 4}] * 4)


@pytest.mark.parametrize("backends", [1, 2])
def test_a_download_streaming_when_its_database_hangs_breaks_within_the_bound(
    make_settings,
    replica_link: tuple[SwitchableLink, str],
    auth_headers: Callable[..., dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    backends: int,
) -> None:
    """On two backends too: the second's connection is cut with the first's."""
    if backends == 2:
        monkeypatch.setattr(views, "numbers_copied", numbers_in_runs)
    link, through_link = replica_link
    settings = make_settings(database_read_url=through_link, database_timeout_seconds=TIMEOUT_SECONDS)
    with (
        LiveServer(create_app(settings), settings) as server,
        httpx.stream("GET", f"{server.url}/numbers?rows=10000000", headers=auth_headers(), timeout=60) as download,
    ):
        assert download.status_code == 200
        chunks = download.iter_raw()
        next(chunks)
        link.hang()
        started = time.monotonic()
        # Broken, never cleanly short: the client can tell it has not got the whole file.
        with pytest.raises(httpx.RemoteProtocolError):
            for _chunk in chunks:
                pass
        # No pre-ping or new connection here: the watch's pause and its unanswered SELECT 1.
        assert time.monotonic() - started < 2 * TIMEOUT_SECONDS + SLACK_SECONDS


def test_a_slow_statement_on_a_database_that_answers_is_left_to_its_statement_timeout(
    make_settings, auth_headers: Callable[..., dict[str, str]]
) -> None:
    settings = make_settings(database_timeout_seconds=TIMEOUT_SECONDS)
    with LiveServer(create_app(settings), settings) as server:
        (response, seconds), *_ = answers(server, [f"/database-sleep?seconds={4 * TIMEOUT_SECONDS}"], auth_headers())
    assert response.status_code == 200
    assert seconds >= 4 * TIMEOUT_SECONDS


def test_readiness_answers_within_the_timeout_when_the_database_hangs_in_the_middle_of_it(
    primary_link: tuple[SwitchableLink, str],
) -> None:
    """Connected, its query on its way: cancelling it would have psycopg ask a hung server to cancel it."""
    link, through_link = primary_link
    database = Database(
        through_link,
        MIGRATIONS,
        timeout_seconds=TIMEOUT_SECONDS,
        application_name="servicekit-tests",
        readiness_details="SELECT pg_sleep(30) AS slept",
    )
    threading.Timer(TIMEOUT_SECONDS / 2, link.hang).start()
    started = time.monotonic()
    readiness = asyncio.run(database.check_readiness())
    assert time.monotonic() - started < TIMEOUT_SECONDS + SLACK_SECONDS
    assert readiness == Readiness(None, {"database": "unavailable"})
    database.dispose()


@contextmanager
def throwaway_server() -> Iterator[tuple[str, Callable[[int], None]]]:
    """A PostgreSQL cluster of its own, started for the block, and what signals all its processes (the
    postmaster and the backends serving the connections): the shared test servers are never stopped."""
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.skip("no initdb to start a PostgreSQL of the test's own")
    bindir = Path(initdb).resolve().parent
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory() as folder, socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
        probe.close()
        data = Path(folder) / "data"
        if as_postgres:
            shutil.chown(folder, "postgres")

        def run(*command: str) -> None:
            subprocess.run([*as_postgres, *command], check=True, capture_output=True)

        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        # Its output to a file: the server would otherwise hold run()'s pipes open for ever.
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(Path(folder) / "log"), "-o", options, "-w", "start")
        postmaster = int((data / "postmaster.pid").read_text().split()[0])

        def signal_all(number: int) -> None:
            for pid in [postmaster, *_children(postmaster)]:
                with suppress(ProcessLookupError):  # a backend that ended since it was listed needs no signal
                    os.kill(pid, number)

        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", signal_all
        finally:
            signal_all(signal.SIGCONT)
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


def _children(parent: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]


@pytest.mark.slow
def test_a_stopped_postgresql_answers_every_request_within_the_bound(
    make_settings, auth_headers: Callable[..., dict[str, str]]
) -> None:
    """SIGSTOP, as a server that hangs: its kernel still accepts connections and acknowledges what is
    sent; nothing answers."""
    with throwaway_server() as (url, signal_all):
        MIGRATIONS.upgrade(url)
        settings = make_settings(database_url=url, database_timeout_seconds=TIMEOUT_SECONDS)
        headers = auth_headers()
        with LiveServer(create_app(settings), settings) as server:
            assert all(response.status_code == 200 for response, _ in answers(server, ["/notes"] * 4, headers))
            [(readiness, readiness_seconds)], notes = answers_while_failing(
                server, headers, partial(signal_all, signal.SIGSTOP), ["/readyz"], notes=6, sleeping=2
            )
            for response, seconds in notes:
                assert_database_unavailable(response)
                assert seconds < DOCUMENTED_BOUND_SECONDS + SLACK_SECONDS
            assert readiness.json()["database"] == "unavailable"
            assert readiness_seconds < TIMEOUT_SECONDS + SLACK_SECONDS
            signal_all(signal.SIGCONT)
            assert answers_again(server, "/notes", headers)
