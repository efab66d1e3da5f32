"""Downloads under faults, over a real uvicorn and the real database: a client that stops reading is cut,
one that hangs up early has its query cancelled, a database lost before the first byte is a 503 and after
it a broken transfer, and every slot comes back whatever failed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Connection

import servicekit.testing
from servicekit import Database
from servicekit.testing import (
    LiveServer,
    assert_problem,
    cleanly_ended,
    eventually,
    slow_reader,
    terminate_queries,
)
from tests.fixture_service import FixtureSettings, create_app

pytestmark = pytest.mark.slow
ROWS = 2_000_000  # about 15 MB: far more than the socket buffers hold
SLOTS = 2
ENCODINGS = ["identity", "gzip", "br", "zstd"]


class DownloadServer(servicekit.testing.DownloadServer):
    def downloads_normally(self) -> bool:
        response = httpx.get(f"{self.url}/numbers", params={"rows": 1000}, timeout=30)
        return response.status_code == 200 and response.text.endswith("1000\n")


def serve(settings: FixtureSettings, database_url: str) -> Iterator[DownloadServer]:
    app = create_app(settings)
    with LiveServer(app, settings) as server:
        yield DownloadServer(server.url, app.parts.get(Database), database_url)


@pytest.fixture(scope="module")
def download_server(make_settings: Callable[..., FixtureSettings], database_url: str) -> Iterator[DownloadServer]:
    settings = make_settings(export_concurrency=SLOTS, download_idle_seconds=1)
    yield from serve(settings, database_url)


def raw_request(url: str) -> socket.socket:
    """A GET sent on a bare socket, whose hang-up the test decides: httpx waits for the headers first."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port))
    connection.sendall(f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    return connection


def read_nothing(stack: ExitStack, url: str) -> httpx.Response:
    """A download whose headers arrive, then whose client reads nothing until `stack` closes."""
    # Uncompressed: the compressed file would fit the socket buffers, and be sent in full unread.
    client = stack.enter_context(slow_reader(headers={"Accept-Encoding": "identity"}))
    return stack.enter_context(client.stream("GET", url))


def test_clients_that_read_nothing_are_cut_after_the_idle_limit(download_server: DownloadServer) -> None:
    with ExitStack() as stack:
        responses = [read_nothing(stack, f"{download_server.url}/numbers?rows={ROWS}") for _ in range(SLOTS)]
        assert [response.status_code for response in responses] == [200] * SLOTS
        assert eventually(download_server.idle)
        assert download_server.downloads_normally()
        for response in responses:
            with pytest.raises(httpx.RemoteProtocolError):  # cut: what was in flight, then no clean end
                for _ in response.iter_raw():
                    pass


def test_a_client_reading_slowly_but_steadily_is_never_cut(download_server: DownloadServer) -> None:
    """It reads at 512 KB/s for twelve idle limits. The server's send buffer (megabytes on loopback) fills
    at once, and takes more only once a third of it has drained: one send waits for seconds, while the
    client makes progress all along. A client cut meanwhile would still read what the buffer held, then
    see the stream end early."""
    rate, seconds = 512 * 1024, 12
    with (
        slow_reader(headers={"Accept-Encoding": "identity"}) as client,
        client.stream("GET", f"{download_server.url}/numbers", params={"rows": ROWS}) as response,
    ):
        assert read_for(response.iter_raw(4096), bytes_per_second=rate, seconds=seconds) > 0.8 * rate * seconds


def read_for(pieces: Iterator[bytes], bytes_per_second: int, seconds: float) -> int:
    """How many bytes of `pieces` were read in `seconds`, at `bytes_per_second`."""
    started = time.monotonic()
    received = 0
    for piece in pieces:
        received += len(piece)
        elapsed = time.monotonic() - started
        if elapsed >= seconds:
            break
        time.sleep(max(0.0, received / bytes_per_second - elapsed))
    return received


def test_hang_ups_before_the_first_byte_cancel_their_queries_at_once(download_server: DownloadServer) -> None:
    # The last download's client can have its last byte a moment before the server lets its slot go.
    assert eventually(download_server.idle)
    with ExitStack() as stack:
        for _ in range(SLOTS):
            stack.enter_context(raw_request(f"{download_server.url}/slow-numbers?rows=10&seconds=30"))
        assert eventually(download_server.copying(SLOTS))
    assert eventually(download_server.idle, seconds=1)
    assert download_server.downloads_normally()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_database_lost_midway_breaks_the_transfer_whatever_the_encoding(
    download_server: DownloadServer, encoding: str, paused_after_the_first_piece: threading.Event
) -> None:
    with (
        slow_reader() as client,
        client.stream(
            "GET", f"{download_server.url}/numbers?rows={ROWS}", headers={"Accept-Encoding": encoding}
        ) as response,
    ):
        assert response.headers.get("content-encoding", "identity") == encoding
        chunks = response.iter_raw()
        received = [next(chunks)]
        terminate_queries(download_server.database_url, "COPY")
        paused_after_the_first_piece.set()
        with pytest.raises(httpx.RemoteProtocolError):  # no terminating chunk
            received.extend(chunks)
    assert not cleanly_ended(b"".join(received), encoding)
    assert eventually(download_server.idle)
    assert download_server.downloads_normally()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_database_lost_before_the_first_byte_is_a_503_whatever_the_encoding(
    download_server: DownloadServer, encoding: str
) -> None:
    with ThreadPoolExecutor(1) as pool:
        answer: Future[httpx.Response] = pool.submit(
            httpx.get,
            f"{download_server.url}/slow-numbers?rows=10&seconds=30",
            headers={"Accept-Encoding": encoding},
            timeout=30,
        )
        assert eventually(download_server.copying(1))
        terminate_queries(download_server.database_url, "COPY")
        response = answer.result()
    assert_problem(response, 503, retry_after="10")
    assert eventually(download_server.idle)


def test_a_slot_is_freed_even_when_closing_its_connection_fails(
    download_server: DownloadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    closes = threading.Event()
    close = Connection.close

    def close_once_failing(connection: Connection) -> None:
        close(connection)
        if not closes.is_set():
            closes.set()
            raise RuntimeError("the connection failed to close")

    monkeypatch.setattr(Connection, "close", close_once_failing)
    assert download_server.downloads_normally()
    assert eventually(closes.is_set)
    monkeypatch.undo()
    with ExitStack() as stack:  # every slot, held at once
        for _ in range(SLOTS):
            assert read_nothing(stack, f"{download_server.url}/numbers?rows={ROWS}").status_code == 200
    assert eventually(download_server.idle)


def test_a_download_stops_at_its_statement_timeout(
    make_settings: Callable[..., FixtureSettings], database_url: str
) -> None:
    settings = make_settings(download_statement_timeout_seconds=0.5)
    for server in serve(settings, database_url):
        response = httpx.get(f"{server.url}/slow-numbers?rows=10&seconds=30", timeout=30)
        assert response.status_code == 504
        assert "Retry-After" not in response.headers
        assert eventually(server.idle)
