"""Streamed downloads from the database, for any view that streams: sent in ~64 KiB chunks, limited in
number, stopped when the client goes.

Each download holds one of Flask's worker threads and one database connection until its last byte,
so at most `concurrency` run at once; past that the caller gets 503 and Retry-After at once rather than
a queue, and the probes and the other endpoints keep their threads.

    def get_report() -> flask.Response:
        return flask.Response(current(Downloads).open(report_csv), mimetype="text/csv")

where `report_csv(connection)` is a generator of the file's bytes, as the database produces them: the
download's producer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack, closing

import structlog
from sqlalchemy import Connection

from servicekit.database import Database
from servicekit.middleware.disconnect import disconnected_event
from servicekit.problems import ServiceUnavailable

CHUNK_BYTES = 64 * 1024  # one cross-thread hand-over per chunk, not per row; and brotli compresses it well
RETRY_AFTER_SECONDS = 30

Chunks = Generator[bytes, None, None]
Producer = Callable[[Connection], Chunks]

log = structlog.get_logger(__name__)


class ClientDisconnected(Exception):
    """The client hung up mid-download."""


class Downloads:
    def __init__(self, database: Database, concurrency: int) -> None:
        self.database = database
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)

    def open(self, producer: Producer, *, prefix: bytes = b"") -> DownloadBody:
        """The download's body: `prefix` at once (a byte-order mark, say), then what `producer` makes of a
        connection. Its slot and its database connection are taken now, before any header is sent, so
        that a busy service or an unreachable database still gets a clean 503."""
        if not self._slots.acquire(blocking=False):
            raise ServiceUnavailable(
                f"All {self.concurrency} download slots are busy: try again shortly.", RETRY_AFTER_SECONDS
            )
        with ExitStack() as held:
            held.callback(self._slots.release)
            connection = self.database.engine.connect()
            held.callback(connection.close)
            return DownloadBody(_stream(connection, producer, prefix, disconnected_event()), held.pop_all())


class DownloadBody:
    """A WSGI body whose close() frees what the download holds, whether or not it was ever read:
    a HEAD request, or a client gone before the first chunk, never starts the generator."""

    def __init__(self, chunks: Chunks, held: ExitStack) -> None:
        self._chunks = chunks
        self._held = held

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        with self._held:  # each of the connection and the slot is freed, even if freeing the other fails
            self._chunks.close()  # cancels the query if it is still running


def _stream(connection: Connection, producer: Producer, prefix: bytes, disconnected: threading.Event) -> Chunks:
    sent = 0
    try:
        if prefix:
            yield prefix
        with closing(producer(connection)) as produced:
            for chunk in chunked(produced, disconnected):
                sent += len(chunk)
                yield chunk
        log.info("download complete", bytes=sent)
    except ClientDisconnected:
        log.info("download abandoned by the client", bytes=sent)


def chunked(pieces: Iterable[bytes], disconnected: threading.Event) -> Iterator[bytes]:
    """Pieces joined into chunks of about CHUNK_BYTES; raises ClientDisconnected once the client has gone."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= CHUNK_BYTES:
            if disconnected.is_set():
                raise ClientDisconnected
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
