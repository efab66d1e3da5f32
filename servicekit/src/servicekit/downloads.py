"""Streamed downloads from the database, for any view that streams: sent in ~64 KiB chunks, limited in
number, stopped when the client goes.

Each download holds one of Flask's worker threads and one database connection until its last byte,
so at most `concurrency` run at once; past that the caller gets 503 and Retry-After at once rather than
a queue, and the probes and the other endpoints keep their threads.

    def get_report() -> flask.Response:
        return flask.Response(current(Downloads).open(report_csv), mimetype="text/csv")

where `report_csv(connection)` is a generator of the file's bytes, as the database produces them: the
download's producer. It returns how many rows the file held, if it can tell (`cursor.rowcount` after a
COPY; a count of the rows it fetched), for the log line and the audit event that end every download.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack, closing

import structlog
from sqlalchemy import Connection

from servicekit.audit import AuditedAccess, Outcome, Tally, write_audit_event
from servicekit.database import Database
from servicekit.middleware.disconnect import disconnected_event
from servicekit.problems import ServiceUnavailable

CHUNK_BYTES = 64 * 1024  # one cross-thread hand-over per chunk, not per row; and brotli compresses it well
RETRY_AFTER_SECONDS = 30

Chunks = Generator[bytes, None, None]
Produced = Generator[bytes, None, int | None]  # the file's bytes, then how many rows it held (None: cannot tell)
Producer = Callable[[Connection], Produced]

log = structlog.get_logger(__name__)


class ClientDisconnected(Exception):
    """The client hung up mid-download."""


class Downloads:
    def __init__(self, database: Database, concurrency: int) -> None:
        self.database = database
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)

    def open(self, producer: Producer, *, prefix: bytes = b"", audit: AuditedAccess | None = None) -> DownloadBody:
        """The download's body: `prefix` at once (a byte-order mark, say), then what `producer` makes of a
        connection. Its slot and its database connection are taken now, before any header is sent, so
        that a busy service or an unreachable database still gets a clean 503. With `audit`, the
        download writes its audit event when it ends, however it ends."""
        disconnected = disconnected_event()
        if not self._slots.acquire(blocking=False):
            raise ServiceUnavailable(
                f"All {self.concurrency} download slots are busy: try again shortly.", RETRY_AFTER_SECONDS
            )
        with ExitStack() as held:
            held.callback(self._slots.release)
            connection = self.database.engine.connect()
            held.callback(connection.close)
            tally = Tally(bytes=0)
            # Added last, so run first when the body closes, by when the stream has settled the tally.
            held.callback(_report_end, tally, audit)
            return DownloadBody(_stream(connection, producer, prefix, disconnected, tally), held.pop_all())


class DownloadBody:
    """A WSGI body whose close() reports how the download ended and frees what it holds, whether or not it
    was ever read: a HEAD request, or a client gone before the first chunk, never starts the generator."""

    def __init__(self, chunks: Chunks, held: ExitStack) -> None:
        self._chunks = chunks
        self._held = held

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        with self._held:  # each of the connection and the slot is freed, even if freeing the other fails
            self._chunks.close()  # cancels the query if it is still running


def _stream(
    connection: Connection, producer: Producer, prefix: bytes, disconnected: threading.Event, tally: Tally
) -> Chunks:
    """The body's chunks, kept in `tally` as they go; it stays abandoned unless the stream completes or fails."""
    sent = 0
    try:
        if prefix:
            sent = tally.bytes = len(prefix)
            yield prefix
        with closing(producer(connection)) as produced:
            for chunk in chunked(_rows_into(tally, produced), disconnected):
                sent += len(chunk)
                tally.bytes = sent
                yield chunk
        tally.outcome = Outcome.COMPLETE
    except ClientDisconnected:
        pass  # abandoned
    except Exception:
        tally.outcome = Outcome.FAILED
        raise


def _rows_into(tally: Tally, produced: Produced) -> Iterator[bytes]:
    """The producer's bytes; the row count it returns at the end goes into `tally`."""
    tally.rows = yield from produced


def _report_end(tally: Tally, audit: AuditedAccess | None) -> None:
    log.info(f"download {tally.outcome}", rows=tally.rows, bytes=tally.bytes)
    if audit is not None:
        write_audit_event(audit, tally)


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
