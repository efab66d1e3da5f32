"""Mailing list downloads: streamed in ~64 KiB chunks, limited in number, stopped when the client goes.

Each download holds one of Flask's worker threads and one database connection until its last byte,
so at most EXPORT_CONCURRENCY run at once; past that the caller gets 503 and Retry-After at once
rather than a queue, and the probes and the other endpoints keep their threads.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing

import structlog
from sqlalchemy import Connection

from app.data_queries import csv_pieces, mailing_list
from app.data_types import ExportFilters
from app.database import Database
from app.errors import ServiceUnavailable

CHUNK_BYTES = 64 * 1024  # one cross-thread hand-over per chunk, not per row; and brotli compresses it well
RETRY_AFTER_SECONDS = 30
UTF8_BOM = "\ufeff".encode()

log = structlog.get_logger(__name__)


class ClientDisconnected(Exception):
    """The client hung up mid-download."""


class Exports:
    def __init__(self, database: Database, concurrency: int) -> None:
        self.database = database
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)

    def csv(self, filters: ExportFilters, *, disconnected: threading.Event, bom: bool) -> Download:
        """The download's body. Its slot and its database connection are taken now, before any
        header is sent, so that a busy service or an unreachable database still gets a clean 503."""
        if not self._slots.acquire(blocking=False):
            raise ServiceUnavailable(
                f"All {self.concurrency} download slots are busy: try again shortly.", RETRY_AFTER_SECONDS
            )
        try:
            connection = self.database.engine.connect()
        except BaseException:
            self._slots.release()
            raise
        chunks = _stream(connection, filters, disconnected, bom)
        return Download(chunks, on_close=[connection.close, self._slots.release])


class Download:
    """A WSGI body whose close() frees what the download holds, whether or not it was ever read:
    a HEAD request, or a client gone before the first chunk, never starts the generator."""

    def __init__(self, chunks: Generator[bytes, None, None], on_close: list[Callable[[], None]]) -> None:
        self._chunks = chunks
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        try:
            self._chunks.close()  # cancels the query if it is still running
        finally:
            callbacks, self._on_close = self._on_close, []
            for callback in callbacks:
                callback()


def _stream(
    connection: Connection, filters: ExportFilters, disconnected: threading.Event, bom: bool
) -> Generator[bytes, None, None]:
    sent = 0
    try:
        if bom:
            yield UTF8_BOM
        with closing(csv_pieces(connection, mailing_list(filters))) as pieces:
            for chunk in chunked(pieces, disconnected):
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


def download_name(today: dt.date) -> str:
    return f"directmail-{today.isoformat()}.csv"
