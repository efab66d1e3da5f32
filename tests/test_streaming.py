"""Downloads over a real uvicorn: streamed, bounded in number, stopped by a hang-up, broken by a failure."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from app import create_app
from config import Settings
from servicekit import Database
from servicekit.testing import DownloadServer, LiveServer, eventually, slow_reader, terminate_queries
from tests.conftest import demo_database

BIG_PREMISES = 200_000
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_database_url(server_url: str) -> Iterator[str]:
    with demo_database(server_url, BIG_PREMISES) as url:
        yield url


@pytest.fixture(scope="module")
def export_server(big_database_url: str, make_settings: Callable[..., Settings]) -> Iterator[DownloadServer]:
    settings = make_settings(database_url=big_database_url, export_concurrency=2)
    app = create_app(settings)
    with LiveServer(app, settings) as server:
        yield DownloadServer(server.url, app.parts.get(Database), big_database_url)


def test_a_large_download_streams_in_chunks(export_server: DownloadServer, staff: dict[str, str]) -> None:
    identity = staff | {"Accept-Encoding": "identity"}
    with httpx.stream("GET", f"{export_server.url}/directmail-csv", headers=identity, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        reads = [len(chunk) for chunk in response.iter_raw()]
    assert len(reads) > 100  # it arrived piece by piece, not as one buffered body
    assert sum(reads) > BIG_PREMISES * 50


def test_the_whole_list_arrives_intact_and_brotli_compressed(
    export_server: DownloadServer, staff: dict[str, str]
) -> None:
    response = httpx.get(f"{export_server.url}/directmail-csv", headers=staff | {"Accept-Encoding": "br"}, timeout=60)
    assert response.headers["content-encoding"] == "br"
    assert response.num_bytes_downloaded < len(response.content) / 4
    assert response.content.count(b"\n") == BIG_PREMISES + 1
    assert response.content.endswith(b"\n")


def test_hung_up_downloads_stop_their_queries_and_free_their_connections(
    export_server: DownloadServer, big_database_url: str, staff: dict[str, str]
) -> None:
    for _ in range(20):  # twice the pool: a leak would have run out of connections
        with (
            slow_reader() as client,
            client.stream("GET", f"{export_server.url}/directmail-csv", headers=staff) as response,
        ):
            assert response.status_code == 200
            next(response.iter_raw())
        assert eventually(export_server.idle, 2)  # each hang-up's query, slot and connection, in moments
    response = httpx.get(f"{export_server.url}/directmail-summary", headers=staff, timeout=10)
    assert response.json()["total"] == BIG_PREMISES  # and the service goes on serving


def test_past_the_concurrency_limit_downloads_get_503_and_probes_still_answer(
    export_server: DownloadServer, staff: dict[str, str]
) -> None:
    # Uncompressed, the two lists are far larger than the socket buffers: their downloads stay open.
    identity = staff | {"Accept-Encoding": "identity"}
    with slow_reader(base_url=export_server.url, headers=identity) as client:
        with client.stream("GET", "/directmail-csv") as first, client.stream("GET", "/directmail-csv") as second:
            # Held by name: a dropped iterator closes its response, which is a hang-up.
            first_chunks, second_chunks = first.iter_raw(), second.iter_raw()
            next(first_chunks)
            next(second_chunks)
            refused = client.get("/directmail-csv")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "30"
            assert refused.headers["content-type"] == "application/problem+json"
            assert "download slots are busy" in refused.json()["detail"]
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 200
            assert client.get("/communities").status_code == 200
        assert eventually(lambda: client.get("/directmail-csv", params={"communities": "Winson"}).status_code == 200)


def test_a_failure_mid_stream_breaks_the_transfer(
    export_server: DownloadServer, big_database_url: str, staff: dict[str, str]
) -> None:
    """The client must see a broken download, never a short file that looks complete."""
    identity = staff | {"Accept-Encoding": "identity"}
    with (
        slow_reader() as client,
        client.stream("GET", f"{export_server.url}/directmail-csv", headers=identity) as response,
    ):
        chunks = response.iter_raw()
        next(chunks)
        terminate_queries(big_database_url, "COPY")
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in chunks:
                pass
    pool = export_server.database.engine.pool
    assert eventually(lambda: pool.checkedout() == 0)  # type: ignore[attr-defined]
