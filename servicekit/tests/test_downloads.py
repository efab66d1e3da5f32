"""Streamed downloads over a real uvicorn: sent as the database produces them, bounded in number,
stopped and freed when the client hangs up, broken (never short) when the database fails midway."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial

import httpx
import psycopg
import pytest
from sqlalchemy import Connection, text

from servicekit import Database
from servicekit.copy_out import AHEAD_BYTES, copied_csv
from servicekit.downloads import Produced, Producer, in_blocks
from servicekit.testing import DownloadServer, LiveServer, assert_problem, eventually, slow_reader, terminate_queries
from servicekit.testing.databases import libpq_url
from tests.fixture_service import FixtureSettings, create_app, views

pytestmark = pytest.mark.slow
ROWS = 2_000_000  # about 15 MB: far more than the socket buffers hold


@pytest.fixture(scope="module")
def download_server(make_settings: Callable[..., FixtureSettings], database_url: str) -> Iterator[DownloadServer]:
    settings = make_settings(export_concurrency=2)
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


def test_a_download_reads_one_snapshot_and_writes_nothing(
    download_server: DownloadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A producer running several statements (one per community, say) must not see a change made between two."""

    def counted_around_a_commit(rows: int) -> Producer:
        def produce(connection: Connection) -> Produced:
            count = text("SELECT count(*) FROM notes")
            before = connection.scalar(count)
            with psycopg.connect(libpq_url(download_server.database_url), autocommit=True) as writer:
                writer.execute("INSERT INTO notes (body) VALUES ('written mid-download')")
            after = connection.scalar(count)
            read_only = connection.scalar(text("SELECT current_setting('transaction_read_only')"))
            yield f"{before} {after} {read_only}\n".encode()
            return 1

        return produce

    monkeypatch.setattr(views, "numbers_copied", counted_around_a_commit)
    try:
        response = httpx.get(f"{download_server.url}/numbers", params={"rows": 1}, timeout=10)
    finally:
        with psycopg.connect(libpq_url(download_server.database_url), autocommit=True) as writer:
            writer.execute("DELETE FROM notes WHERE body = 'written mid-download'")
    before, after, read_only = response.text.split()
    assert (before, read_only) == (after, "on")


def runs_of_numbers(runs: int, rows: int) -> Producer:
    """A producer of one statement run `runs` times, each line saying which run, on which backend, with
    which settings, and seeing how many notes."""
    statement = text(
        "SELECT :run, pg_backend_pid(), current_setting('work_mem'), current_setting('transaction_read_only'),"
        " (SELECT count(*) FROM notes), n FROM generate_series(1, :rows) AS n"
    )
    return partial(copied_csv, statement=statement, parameter_sets=[{"run": run, "rows": rows} for run in range(runs)])


def test_a_download_over_several_runs_alternates_two_backends_on_its_snapshot(
    download_server: DownloadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs 0 and 2 on the download's connection, 1 and 3 on its helper: the same snapshot (a note written
    once the download began is in none), the same settings, in order, each run whole (more than the
    helper may keep ahead)."""

    def written_mid_download(rows: int) -> Producer:
        def produce(connection: Connection) -> Produced:
            connection.exec_driver_sql("SET LOCAL work_mem = '7MB'")
            connection.scalar(text("SELECT count(*) FROM notes"))  # the snapshot taken
            with psycopg.connect(libpq_url(download_server.database_url), autocommit=True) as writer:
                writer.execute("INSERT INTO notes (body) VALUES ('written mid-download')")
            return (yield from runs_of_numbers(4, rows)(connection))

        return produce

    rows = AHEAD_BYTES // 10  # each line at least 30 bytes
    monkeypatch.setattr(views, "numbers_copied", written_mid_download)
    try:
        response = httpx.get(f"{download_server.url}/numbers", params={"rows": rows}, timeout=30)
        with psycopg.connect(libpq_url(download_server.database_url)) as reader:
            notes_now = reader.execute("SELECT count(*) FROM notes").fetchone()
    finally:
        with psycopg.connect(libpq_url(download_server.database_url), autocommit=True) as writer:
            writer.execute("DELETE FROM notes WHERE body = 'written mid-download'")
    lines = [line.split(",") for line in response.text.splitlines()]
    assert [(int(run), int(n)) for run, *_, n in lines] == [(run, n) for run in range(4) for n in range(1, rows + 1)]
    backends = {int(run): pid for run, pid, *_ in lines}
    assert backends[0] == backends[2] != backends[1] == backends[3]
    (seen,) = {(work_mem, read_only, int(notes)) for _run, _pid, work_mem, read_only, notes, _n in lines}
    assert notes_now is not None
    assert seen == ("7MB", "on", notes_now[0] - 1)


def test_a_hang_up_stops_both_backends_and_frees_both_connections(
    download_server: DownloadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "numbers_copied", partial(runs_of_numbers, 4))
    for _ in range(5):
        with slow_reader() as client, client.stream("GET", f"{download_server.url}/numbers?rows={ROWS}") as response:
            chunks = response.iter_raw()  # kept: dropped, it would close the connection at once
            next(chunks)
            assert eventually(download_server.copying(2), 2)
        assert eventually(download_server.idle, 2)


def test_a_download_past_the_limit_is_refused_without_waiting_for_a_thread(
    make_settings: Callable[..., FixtureSettings], database_url: str
) -> None:
    """Both slots streaming and the only other worker thread busy: the refusal still comes at once."""
    settings = make_settings(export_concurrency=2, worker_threads=3)
    identity = {"Accept-Encoding": "identity"}  # far larger than the socket buffers: the downloads stay open
    with (
        LiveServer(create_app(settings), settings) as server,
        slow_reader(base_url=server.url, headers=identity) as client,
        ThreadPoolExecutor(1) as pool,
        ExitStack() as streams,
    ):
        for _ in range(2):
            assert streams.enter_context(client.stream("GET", "/numbers", params={"rows": ROWS})).status_code == 200
        busy = pool.submit(httpx.get, f"{server.url}/slow", params={"seconds": 6}, timeout=30)
        time.sleep(0.5)  # the third thread taken
        refused = httpx.get(f"{server.url}/numbers", params={"rows": 10}, timeout=3)  # a thread: 6 s
        assert_problem(refused, 503, retry_after="30")
        assert not busy.done()
        streams.close()
        assert busy.result().status_code == 200


def test_blocks_keep_every_byte_in_order() -> None:
    pieces = [b"x" * size for size in (3, 5, 1, 7, 2)]
    assert list(in_blocks(pieces, size=8)) == [b"x" * 8, b"x" * 8, b"x" * 2]
    assert list(in_blocks([], size=8)) == []
