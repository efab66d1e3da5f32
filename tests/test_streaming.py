"""Downloads over a real uvicorn: streamed, bounded in number, stopped by a hang-up, broken by a failure."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from sqlalchemy import make_url

from app.database import Database
from tests.conftest import LiveServer, build_app, demo_database, settings_for_tests, trusting
from tests.fake_entra import FakeEntra

BIG_PREMISES = 200_000
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_database_url(server_url: str) -> Iterator[str]:
    with demo_database(server_url, BIG_PREMISES) as url:
        yield url


@dataclass
class ExportServer:
    url: str
    database: Database


@pytest.fixture(scope="module")
def export_server(big_database_url: str, fake_entra: FakeEntra) -> Iterator[ExportServer]:
    settings = settings_for_tests(big_database_url, export_concurrency=2, **trusting(fake_entra))
    app = build_app(settings)
    with LiveServer(app, settings) as server:
        yield ExportServer(server.url, app.app.extensions["database"])


@pytest.fixture
def staff(fake_entra: FakeEntra) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake_entra.make_token(roles=['Directmail.Read'])}"}


def slow_reader(**kwargs: object) -> httpx.Client:
    """A client with a small, fixed receive buffer: the kernel's autotuning would otherwise take in
    tens of megabytes unread, and the server would finish a download nobody is reading."""
    transport = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)])
    return httpx.Client(transport=transport, timeout=60, **kwargs)  # type: ignore[arg-type]


def running_exports(database_url: str) -> int:
    url = make_url(database_url)
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'COPY%%' AND state = 'active'",
            (url.database,),
        ).fetchone()
    return int(row[0]) if row else 0


def eventually(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_large_download_streams_in_chunks(export_server: ExportServer, staff: dict[str, str]) -> None:
    identity = staff | {"Accept-Encoding": "identity"}
    with httpx.stream("GET", f"{export_server.url}/directmail-csv", headers=identity, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        reads = [len(chunk) for chunk in response.iter_raw()]
    assert len(reads) > 100  # it arrived piece by piece, not as one buffered body
    assert sum(reads) > BIG_PREMISES * 50


def test_the_whole_list_arrives_intact_and_brotli_compressed(
    export_server: ExportServer, staff: dict[str, str]
) -> None:
    response = httpx.get(f"{export_server.url}/directmail-csv", headers=staff | {"Accept-Encoding": "br"}, timeout=60)
    assert response.headers["content-encoding"] == "br"
    assert response.num_bytes_downloaded < len(response.content) / 4
    assert response.content.count(b"\n") == BIG_PREMISES + 1
    assert response.content.endswith(b"\n")


def test_hung_up_downloads_stop_their_queries_and_free_their_connections(
    export_server: ExportServer, big_database_url: str, staff: dict[str, str]
) -> None:
    for _ in range(50):
        with (
            slow_reader() as client,
            client.stream("GET", f"{export_server.url}/directmail-csv", headers=staff) as response,
        ):
            assert response.status_code == 200
            next(response.iter_raw())
    pool = export_server.database.engine.pool
    assert eventually(lambda: running_exports(big_database_url) == 0 and pool.checkedout() == 0)  # type: ignore[attr-defined]
    response = httpx.get(f"{export_server.url}/directmail-summary", headers=staff, timeout=10)
    assert response.json()["total"] == BIG_PREMISES  # and the service goes on serving


def test_past_the_concurrency_limit_downloads_get_503_and_probes_still_answer(
    export_server: ExportServer, staff: dict[str, str]
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
    export_server: ExportServer, big_database_url: str, staff: dict[str, str]
) -> None:
    """The client must see a broken download, never a short file that looks complete."""
    url = make_url(big_database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    identity = staff | {"Accept-Encoding": "identity"}
    with (
        slow_reader() as client,
        client.stream("GET", f"{export_server.url}/directmail-csv", headers=identity) as response,
    ):
        chunks = response.iter_raw()
        next(chunks)
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query LIKE 'COPY%%' AND pid <> pg_backend_pid()"
            )
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in chunks:
                pass
    pool = export_server.database.engine.pool
    assert eventually(lambda: pool.checkedout() == 0)  # type: ignore[attr-defined]
