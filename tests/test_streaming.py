"""Downloads over a real uvicorn: streamed, bounded in number and per caller, stopped by a hang-up, broken by
a failure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from app import create_app
from config import Settings
from servicekit import Database, Downloads
from servicekit.testing import (
    DownloadServer,
    LiveServer,
    assert_problem,
    eventually,
    slow_reader,
    terminate_queries,
)
from tests.conftest import demo_database

BIG_PREMISES = 200_000
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_database_url(server_url: str, database_prefix: str) -> Iterator[str]:
    with demo_database(server_url, BIG_PREMISES, database_prefix) as url:
        yield url


@pytest.fixture(scope="module")
def running_export_server(big_database_url: str, make_settings: Callable[..., Settings]) -> Iterator[DownloadServer]:
    settings = make_settings(database_url=big_database_url, export_concurrency=2, export_concurrency_per_caller=1)
    app = create_app(settings)
    with LiveServer(app, settings) as server:
        yield DownloadServer(server.url, app.parts.get(Database), big_database_url, app.parts.get(Downloads))


@pytest.fixture
def export_server(running_export_server: DownloadServer) -> DownloadServer:
    """The module's server with every slot free: a download an earlier test hung up on may still be ending
    (seen under load: the next test's first download refused, its caller's one slot still taken)."""
    assert eventually(running_export_server.idle)
    return running_export_server


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


@pytest.fixture
def colleague(auth_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    """Headers of another marketing user: a caller of their own."""
    return auth_headers(roles=["Directmail.Read"], oid="00000000-0000-4000-8000-0000000000c2", name="A Colleague")


def downloading(stack: ExitStack, url: str, headers: dict[str, str]) -> httpx.Response:
    """The whole list under way until `stack` closes, its headers in and its body unread: uncompressed, it
    is far larger than the socket buffers, so the download stays open."""
    client = stack.enter_context(slow_reader(headers=headers | {"Accept-Encoding": "identity"}))
    return stack.enter_context(client.stream("GET", f"{url}/directmail-csv"))


def test_past_the_concurrency_limit_downloads_get_503_and_probes_still_answer(
    export_server: DownloadServer, staff: dict[str, str], colleague: dict[str, str]
) -> None:
    with slow_reader(base_url=export_server.url, headers=staff) as client:
        with ExitStack() as downloads:
            first, second = downloading(downloads, export_server.url, staff), downloading(
                downloads, export_server.url, colleague
            )
            assert (first.status_code, second.status_code) == (200, 200)
            refused = client.get("/directmail-csv")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "30"
            assert refused.headers["content-type"] == "application/problem+json"
            assert "download slots are busy" in refused.json()["detail"]
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 200
            assert client.get("/communities").status_code == 200
        assert eventually(lambda: client.get("/directmail-csv", params={"communities": "Winson"}).status_code == 200)


def test_one_caller_cannot_take_every_slot(
    export_server: DownloadServer, staff: dict[str, str], colleague: dict[str, str]
) -> None:
    with ExitStack() as staffs_download:
        assert downloading(staffs_download, export_server.url, staff).status_code == 200
        again = httpx.get(f"{export_server.url}/directmail-csv", headers=staff, timeout=10)
        assert "as many as one caller may" in assert_problem(again, 503, retry_after="30")["detail"]
        with ExitStack() as colleagues_download:
            assert downloading(colleagues_download, export_server.url, colleague).status_code == 200
    assert eventually(export_server.idle)


def test_a_malformed_request_is_a_400_while_every_slot_is_taken(
    export_server: DownloadServer,
    staff: dict[str, str],
    colleague: dict[str, str],
    auth_headers: Callable[..., dict[str, str]],
) -> None:
    third = auth_headers(roles=["Directmail.Read"], oid="00000000-0000-4000-8000-0000000000c3", name="A Third")
    with ExitStack() as downloads:
        for caller in (staff, colleague):
            assert downloading(downloads, export_server.url, caller).status_code == 200
        for malformed in ({"rfs": "maybe"}, {"rfs_date_after": "yesterday"}, {"segments": "S9"}):
            response = httpx.get(f"{export_server.url}/directmail-csv", params=malformed, headers=third, timeout=10)
            assert_problem(response, 400)
        assert_problem(httpx.get(f"{export_server.url}/directmail-csv", timeout=10), 401)
        assert_problem(
            httpx.get(f"{export_server.url}/directmail-csv", headers=third, timeout=10), 503, retry_after="30"
        )
    assert eventually(export_server.idle)


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
