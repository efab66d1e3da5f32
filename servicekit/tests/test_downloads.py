"""Streamed downloads over a real uvicorn: sent as the database produces them, bounded in number,
stopped and freed when the client hangs up, broken (never short) when the database fails midway."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from servicekit import Database
from servicekit.testing import DownloadServer, LiveServer, eventually, slow_reader, terminate_queries
from tests.fixture_service import FixtureSettings, create_app

pytestmark = pytest.mark.slow
ROWS = 2_000_000  # about 15 MB: far more than the socket buffers hold


@pytest.fixture(scope="module")
def download_server(make_settings: Callable[..., FixtureSettings], database_url: str) -> Iterator[DownloadServer]:
    settings = make_settings(download_concurrency=2)
    app = create_app(settings)
    with LiveServer(app, settings) as server:
        yield DownloadServer(server.url, app.parts.get(Database), database_url)


def test_a_download_is_sent_in_chunks_as_the_database_produces_it(download_server: DownloadServer) -> None:
    identity = {"Accept-Encoding": "identity"}
    url = f"{download_server.url}/numbers"
    with httpx.stream("GET", url, params={"rows": ROWS}, headers=identity, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        chunks = list(response.iter_raw())
    body = b"".join(chunks)
    assert len(chunks) > 100  # piece by piece, not one buffered body
    assert body.count(b"\n") == ROWS
    assert body.endswith(f"{ROWS}\n".encode())


def test_past_the_limit_a_download_gets_503_at_once(download_server: DownloadServer) -> None:
    identity = {"Accept-Encoding": "identity"}
    with slow_reader(base_url=download_server.url, headers=identity) as client:
        params = {"rows": ROWS}
        with (
            client.stream("GET", "/numbers", params=params) as first,
            client.stream("GET", "/numbers", params=params) as second,
        ):
            # Held by name: a dropped iterator closes its response, which is a hang-up.
            first_chunks, second_chunks = first.iter_raw(), second.iter_raw()
            next(first_chunks)
            next(second_chunks)
            refused = client.get("/numbers", params={"rows": 1})
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "30"
            assert "All 2 download slots are busy" in refused.json()["detail"]
            assert client.get("/healthz").status_code == 200
        assert eventually(lambda: client.get("/numbers", params={"rows": 1}).status_code == 200)


def test_a_hang_up_stops_the_query_and_frees_the_slot_and_connection(download_server: DownloadServer) -> None:
    for _ in range(10):
        with slow_reader() as client, client.stream("GET", f"{download_server.url}/numbers?rows={ROWS}") as response:
            assert response.status_code == 200
            next(response.iter_raw())
        assert eventually(download_server.idle, 2)  # each hang-up's query, slot and connection, in moments


def test_head_takes_no_slot_for_long(download_server: DownloadServer) -> None:
    for _ in range(5):  # more than the two slots
        assert httpx.head(f"{download_server.url}/numbers?rows={ROWS}", timeout=10).status_code == 200
    assert eventually(download_server.idle)


def test_a_database_failure_midway_breaks_the_transfer(download_server: DownloadServer) -> None:
    """The client sees a broken download, never a short file that looks complete."""
    identity = {"Accept-Encoding": "identity"}
    with (
        slow_reader() as client,
        client.stream("GET", f"{download_server.url}/numbers?rows={ROWS}", headers=identity) as response,
    ):
        chunks = response.iter_raw()
        next(chunks)
        terminate_queries(download_server.database_url, "COPY")
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in chunks:
                pass
    assert eventually(download_server.idle)
