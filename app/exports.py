"""Mailing list downloads: streamed in ~64 KiB chunks, limited in number, stopped when the client goes.

Each download holds one of Flask's worker threads and one database connection until its last byte,
so at most EXPORT_CONCURRENCY run at once; past that the caller gets 503 and Retry-After at once
rather than a queue, and the probes and the other endpoints keep their threads.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing

import structlog

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

    def csv(self, filters: ExportFilters, *, disconnected: threading.Event, bom: bool) -> Iterator[bytes]:
        """The download's body; the slot is taken now (503 when none is free) and freed when it ends."""
        if not self._slots.acquire(blocking=False):
            raise ServiceUnavailable(
                f"All {self.concurrency} download slots are busy: try again shortly.", RETRY_AFTER_SECONDS
            )
        return self._stream(filters, disconnected, bom)

    def _stream(self, filters: ExportFilters, disconnected: threading.Event, bom: bool) -> Iterator[bytes]:
        sent = 0
        try:
            if bom:
                yield UTF8_BOM
            with (
                self.database.engine.connect() as connection,
                closing(csv_pieces(connection, mailing_list(filters))) as pieces,
            ):
                for chunk in chunked(pieces, disconnected):
                    sent += len(chunk)
                    yield chunk
            log.info("download complete", bytes=sent)
        except ClientDisconnected:
            log.info("download abandoned by the client", bytes=sent)
        finally:
            self._slots.release()


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
