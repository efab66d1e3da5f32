"""The export under faults, over a real uvicorn and the real database: clients that read nothing are cut,
hang-ups before the first byte cancel their queries, a database lost before the first byte is a 503 and
after it a broken transfer, whatever the encoding."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

import app.api
from app import create_app
from app.data_types import ExportFilters
from app.mailing_lists import mailing_list_csv
from config import Settings
from servicekit import Database
from servicekit.downloads import Produced
from servicekit.testing import (
    DownloadServer,
    LiveServer,
    assert_problem,
    cleanly_ended,
    eventually,
    slow_reader,
    terminate_queries,
)
from tests.conftest import demo_database

BIG_PREMISES = 100_000  # about 8 MB uncompressed: more than the socket buffers and the queues hold
SLOTS = 4
pytestmark = pytest.mark.slow


class ExportServer(DownloadServer):
    def exports_whole(self, headers: dict[str, str]) -> bool:
        response = httpx.get(f"{self.url}/directmail-csv", headers=headers, timeout=60)
        return response.status_code == 200 and response.content.count(b"\n") == BIG_PREMISES + 1


@pytest.fixture(scope="module")
def export_server(
    server_url: str, database_prefix: str, make_settings: Callable[..., Settings]
) -> Iterator[ExportServer]:
    with demo_database(server_url, BIG_PREMISES, database_prefix) as url:
        # One caller may hold every slot here: these tests take them all with one token.
        settings = make_settings(
            database_url=url, export_concurrency=SLOTS, export_concurrency_per_caller=SLOTS, download_idle_seconds=1
        )
        app = create_app(settings)
        with LiveServer(app, settings) as server:
            yield ExportServer(server.url, app.parts.get(Database), url)


@contextmanager
def premises_locked(database_url: str) -> Iterator[None]:
    """The export's query waits before its first row, as behind a long sort, until the block ends."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as locker:
            locker.execute(text("LOCK TABLE premises IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


@pytest.fixture
def paused_after_the_first_piece(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The export stops reading its COPY after the first piece until the event is set: the backend is then
    still copying when it is killed, whatever the encoding (compressed, the file fits the socket buffers)."""
    resume = threading.Event()

    def paused(connection: Connection, filters: ExportFilters) -> Produced:
        produced = mailing_list_csv(connection, filters=filters)
        yield next(produced)
        resume.wait(30)
        return (yield from produced)

    monkeypatch.setattr(app.api, "mailing_list_csv", paused)
    return resume


def raw_request(url: str, headers: dict[str, str]) -> socket.socket:
    """A GET on a bare socket, whose hang-up the test decides: httpx waits for the headers first."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port))
    lines = [f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return connection


def test_clients_that_read_nothing_are_cut_and_the_next_one_downloads(
    export_server: ExportServer, staff: dict[str, str]
) -> None:
    identity = staff | {"Accept-Encoding": "identity"}
    with ExitStack() as stack:
        responses = []
        for _ in range(SLOTS):
            client = stack.enter_context(slow_reader(headers=identity))
            responses.append(stack.enter_context(client.stream("GET", f"{export_server.url}/directmail-csv")))
        assert [response.status_code for response in responses] == [200] * SLOTS
        assert eventually(export_server.idle)
        assert export_server.exports_whole(staff)
        for response in responses:
            with pytest.raises(httpx.RemoteProtocolError):  # what was in flight, then no clean end
                response.read()


def test_hang_ups_before_the_first_byte_free_their_slots_and_cancel_their_queries(
    export_server: ExportServer, staff: dict[str, str]
) -> None:
    with premises_locked(export_server.database_url), ExitStack() as stack:
        for _ in range(SLOTS):
            stack.enter_context(raw_request(f"{export_server.url}/directmail-csv", staff))
        assert eventually(export_server.copying(SLOTS))
        stack.close()  # every client hangs up
        assert eventually(export_server.idle, seconds=1)
    assert export_server.exports_whole(staff)


@pytest.mark.parametrize("encoding", ["identity", "br"])
def test_the_database_lost_mid_stream_breaks_the_transfer(
    export_server: ExportServer, staff: dict[str, str], encoding: str, paused_after_the_first_piece: threading.Event
) -> None:
    with (
        slow_reader() as client,
        client.stream(
            "GET", f"{export_server.url}/directmail-csv", headers=staff | {"Accept-Encoding": encoding}
        ) as response,
    ):
        assert response.headers.get("content-encoding", "identity") == encoding
        chunks = response.iter_raw()
        received = [next(chunks)]
        terminate_queries(export_server.database_url, "COPY")
        paused_after_the_first_piece.set()
        with pytest.raises(httpx.RemoteProtocolError):  # no terminating chunk
            received.extend(chunks)
    assert not cleanly_ended(b"".join(received), encoding)  # nor the compressor's end of stream
    assert eventually(export_server.idle)
    assert export_server.exports_whole(staff)


@pytest.mark.parametrize("encoding", ["identity", "gzip", "br"])
def test_the_database_lost_before_the_first_byte_is_a_503(
    export_server: ExportServer, staff: dict[str, str], encoding: str
) -> None:
    headers = staff | {"Accept-Encoding": encoding}
    with ThreadPoolExecutor(1) as pool:
        with premises_locked(export_server.database_url):
            answer: Future[httpx.Response] = pool.submit(
                httpx.get, f"{export_server.url}/directmail-csv", headers=headers, timeout=60
            )
            assert eventually(export_server.copying(1))
            terminate_queries(export_server.database_url, "COPY")
        response = answer.result()
    assert_problem(response, 503, retry_after="10")
    assert eventually(export_server.idle)


def test_slots_are_freed_even_when_closing_a_connection_fails(
    export_server: ExportServer, staff: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = threading.Event()
    close = Connection.close

    def close_then_fail(connection: Connection) -> None:
        close(connection)
        failed.set()
        raise RuntimeError("the connection failed to close")

    monkeypatch.setattr(Connection, "close", close_then_fail)
    for _ in range(SLOTS + 1):  # each would keep its slot if a failing close kept it
        response = httpx.get(
            f"{export_server.url}/directmail-csv", params={"rfs_date_after": "2099-01-01"}, headers=staff
        )
        assert response.status_code == 200
    assert failed.is_set()
