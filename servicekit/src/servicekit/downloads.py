"""Streamed downloads from the database, for any view that streams: sent in ~64 KiB chunks, compressed
as they go, limited in number, stopped when the client goes.

Each download holds one of Flask's worker threads and one database connection until its last byte,
so at most `concurrency` run at once, and at most `concurrency_per_caller` of them one caller's
(`servicekit.slots`); past that the caller gets 503 and Retry-After at once rather than a queue, and the
probes and the other endpoints keep their threads. A download compresses in its own thread too, in the
coding the client prefers (`servicekit.compression`): downloads compress side by side, never queued
behind one another on the event loop. Its slot is admitted on the event loop once the request has passed
security and validation (`servicekit.middleware.download_slots`): a bad request is a 400 however busy
the service, and a refusal never waits for a thread.

    def get_report() -> flask.Response:
        return current(Downloads).response(report_csv, mimetype="text/csv")

where `report_csv(connection)` is a generator of the file's bytes, as the database produces them: the
download's producer. It returns how many rows the file held, if it can tell (`cursor.rowcount` after a
COPY; a count of the rows it fetched), for the log line and the audit event that end every download. On
PostgreSQL its transaction is REPEATABLE READ and read-only: a producer running several statements sees
one snapshot. Downloads read from the read replica when the database has one (`Database(read_url=)`).

What can go wrong, and what the client sees: the database lost before the first byte is a 503 (`open`
waits for the producer's first piece); after it, a broken transfer, never a short file that looks whole.
A client that hangs up has its statement cancelled at once; one that makes no progress (acknowledges no
byte) for `idle_seconds` is cut, however slowly it read until then (`servicekit.middleware.disconnect`);
a statement running past `statement_timeout_seconds` fails.
"""

from __future__ import annotations

import bisect
import itertools
import re
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from functools import partial
from typing import Any

import connexion.context
import flask
import psycopg
import sqlalchemy.exc
import structlog
from sqlalchemy import Connection, Row, func, select
from starlette.types import Scope

from servicekit.audit import AuditedAccess, AuditSink, Outcome, Tally, audit_sink, write_audit_event
from servicekit.compression import FAST_LEVELS, CompressionLevels, StreamEncoder, chosen_coding, stream_encoder
from servicekit.copy_out import HELPER_BACKEND
from servicekit.database import Database, psycopg_connection, set_statement_timeout
from servicekit.internals.connexion import request_context
from servicekit.middleware.disconnect import Disconnection, disconnection
from servicekit.settings import DownloadSettings
from servicekit.slots import Caller, Slot, Slots
from servicekit.tcp_delivery import TcpDelivery, tcp_delivery

__all__ = ["Downloads", "Produced", "Producer"]

# What a download's connection set for its transaction (SET LOCAL), for its helper to set too: all but the
# transaction's own characteristics, which BEGIN sets.
SESSION_SETTINGS = (
    "SELECT name, setting FROM pg_settings WHERE source = 'session'"
    " AND name NOT IN ('transaction_isolation', 'transaction_read_only', 'transaction_deferrable')"
)
SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")
CHUNK_BYTES = 64 * 1024  # one cross-thread hand-over per chunk, not per row; and each compresses well
SLOT_KEY = "servicekit.download_slot"  # the slot admitted for a request, in its scope

Chunks = Generator[bytes, None, None]
Produced = Generator[bytes, None, int | None]
"""What a download's producer gives: the file's bytes, then how many rows they held (None: cannot tell)."""
Producer = Callable[[Connection], Produced]
"""A download's producer: given the download's connection, the file (`Produced`)."""

log = structlog.get_logger(__name__)


class ClientDisconnected(Exception):
    """The client has gone mid-download: it hung up, or was cut for reading nothing."""


class Downloads:
    """Bounded, streamed responses from the database: at most `concurrency` at once and
    `concurrency_per_caller` for one caller, each cut after `idle_seconds` without progress. A part of the app."""

    def __init__(
        self,
        database: Database,
        concurrency: int,
        *,
        concurrency_per_caller: int | None = None,
        idle_seconds: float = 30,
        statement_timeout_seconds: float = 300,
        compression: CompressionLevels = FAST_LEVELS,
        backends: int = 1,
    ) -> None:
        """`concurrency_per_caller`: how many of the slots one caller may hold (all of them unless given);
        `idle_seconds`: how long a client may make no progress before it is cut; `statement_timeout_seconds`:
        how long each of a download's statements may run, longer than other statements are given;
        `backends`: 2 gives each download on PostgreSQL a second connection, from a pool of `concurrency`
        of its own, for `copied_csv` to run every other parameter set on (`servicekit.copy_out`)."""
        self.database = database
        postgresql = database.read_engine.dialect.name == "postgresql"
        self._helpers = database.read_pool(concurrency, "download helpers") if backends > 1 and postgresql else None
        self._slots = Slots(concurrency, concurrency_per_caller)
        self.idle_seconds = idle_seconds
        self.statement_timeout_seconds = statement_timeout_seconds
        self.compression = compression
        # The operations whose views have made a download: `admit` answers for them before a thread.
        self._operations: set[str] = set()

    @classmethod
    def from_settings(cls, database: Database, settings: DownloadSettings) -> Downloads:
        """Downloads as the service's EXPORT_CONCURRENCY, EXPORT_CONCURRENCY_PER_CALLER,
        DOWNLOAD_IDLE_SECONDS, DOWNLOAD_STATEMENT_TIMEOUT_SECONDS, DOWNLOAD_BACKENDS and compression settings
        say."""
        return cls(
            database,
            settings.export_concurrency,
            concurrency_per_caller=settings.export_concurrency_per_caller,
            idle_seconds=settings.download_idle_seconds,
            statement_timeout_seconds=settings.download_statement_timeout_seconds,
            compression=settings.compression_levels,
            backends=settings.download_backends,
        )

    @property
    def slots_taken(self) -> int:
        """How many downloads hold a slot: admitted and not yet ended."""
        return self._slots.taken

    def admit(self, operation_id: str, caller: Caller) -> Slot | None:
        """A slot for a request to `operation_id` when it makes downloads (None when it does not); raises
        ServiceUnavailable when there is none for `caller`. The `DownloadSlotsMiddleware` asks on the event
        loop, so that a refusal never waits for a Flask thread; the view's download claims the slot."""
        return self._slots.admit(caller) if operation_id in self._operations else None

    def response(
        self,
        producer: Producer,
        *,
        mimetype: str,
        headers: Mapping[str, str] | None = None,
        prefix: bytes = b"",
        audit: AuditedAccess | None = None,
    ) -> flask.Response:
        """The download: `prefix` (a byte-order mark, say), then what `producer` makes of a connection,
        compressed as the client prefers. Its slot and its database connection are taken now, and the
        producer run to its first piece (but for HEAD, which never reads the body), before any header is
        sent, so that a busy service or a database unreachable or lost until then still gets a clean 503.
        With `audit`, the download writes its audit event when it ends, however it ends."""
        coding = chosen_coding(", ".join(flask.request.headers.getlist("Accept-Encoding")))
        body = self._open(producer, prefix, audit, stream_encoder(coding, self.compression))
        response = flask.Response(body, mimetype=mimetype, headers=headers)
        if coding is not None:
            response.headers["Content-Encoding"] = coding
            response.vary.add("Accept-Encoding")
        return response

    def _open(
        self, producer: Producer, prefix: bytes, audit: AuditedAccess | None, encoder: StreamEncoder
    ) -> DownloadBody:
        gone = disconnection()
        sink = audit_sink()
        self._operations.add(connexion.context.operation.operation_id)
        # A download refused for want of a slot writes no audit event: most are refused before any view
        # runs (`admit`), where what they asked for is not known yet; their access line, which names the
        # caller, is their record.
        slot = self._slot()
        gone.idle_seconds = self.idle_seconds
        with ExitStack() as held:
            held.callback(slot.give_back)
            connection = self.database.read_engine.connect()
            held.callback(_give_back, connection)
            if connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
                # Left before the connection goes back to the pool: a late cancel must not hit its next user.
                held.enter_context(
                    gone.calling(partial(_cancel, psycopg_connection(connection), self.database.timeout_seconds))
                )
            set_statement_timeout(connection, self.statement_timeout_seconds)  # this transaction's only
            if self._helpers is not None:
                connection.execution_options(**{HELPER_BACKEND: partial(self._helper_backend, connection)})
            tally = Tally(bytes=0)
            end = _End(tally, audit, sink, gone, tcp_delivery(connexion.context.scope))
            held.enter_context(gone.calling(end.report_if_cut_at_shutdown))
            # Added last, so run first when the body closes, by when the stream has settled the tally.
            held.callback(end.report)
            chunks = _stream(connection, producer, prefix, gone, tally, end.handed, encoder)
            if flask.request.method != "HEAD":
                _start(chunks)
            return DownloadBody(chunks, held.pop_all())

    @contextmanager
    def _helper_backend(self, connection: Connection) -> Iterator[Callable[[], Connection]]:
        """For the block, a function giving a connection of the helpers' pool that sees what `connection`
        sees now: its snapshot and its settings (the statement timeout, a producer's planner settings).
        Connected at the first call (never, if the producer needs no helper), given back when the block
        ends."""
        assert self._helpers is not None, "made only where there are helpers"
        helpers = self._helpers
        settings = connection.exec_driver_sql(SESSION_SETTINGS).all()
        snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        if not SNAPSHOT_ID.fullmatch(snapshot):
            raise ValueError(f"not a snapshot's id: {snapshot!r}")
        with ExitStack() as held:
            connected: list[Connection] = []

            def helper() -> Connection:
                if not connected:
                    connected.append(helpers.connect())
                    held.callback(_give_back, connected[0])
                    _see_as(connected[0], snapshot, settings)
                return connected[0]

            yield helper

    def _slot(self) -> Slot:
        """The slot admitted for this request before its view ran, or one taken now: for the first
        download of an operation, which nothing before the view knew for one."""
        scope = connexion.context.scope
        admitted: Slot | None = scope.get(SLOT_KEY)
        if admitted is not None and admitted.claim():
            return admitted
        return self._slots.admit(request_caller(scope))


def request_caller(scope: Scope) -> Caller:
    """Who the request's token names: the `sub` of its token info, which Connexion's security keeps in the
    request's context; None for an operation without security."""
    user: Caller = request_context(scope).get("user")
    return user


class DownloadBody:
    """A WSGI body whose close() reports how the download ended and frees what it holds, whether or not it
    was ever read: a HEAD request never starts the generator, a client gone before the first chunk leaves
    it waiting after the producer's first piece."""

    def __init__(self, chunks: Chunks, held: ExitStack) -> None:
        self._chunks = chunks
        self._held = held

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        with self._held:  # each of the connection and the slot is freed, even if freeing the other fails
            self._chunks.close()  # cancels the query if it is still running


def _see_as(helper: Connection, snapshot: str, settings: Sequence[Row[str, str]]) -> None:
    """`helper`'s transaction made to see `snapshot`, with `settings` (name, value) set for it."""
    helper.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    helper.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # no parameter: a utility statement
    if settings:  # in one round trip
        helper.execute(select(*(func.set_config(name, setting, True) for name, setting in settings)))


def _give_back(connection: Connection) -> None:
    """The connection back to the pool; one the database dropped under the download (its backend killed,
    a failover) is discarded instead: rolling it back would raise from close() after the response began."""
    if connection.dialect.name == "postgresql" and psycopg_connection(connection).broken:
        connection.invalidate()
    connection.close()


def _cancel(driver_connection: psycopg.Connection[Any], timeout_seconds: float) -> None:
    """From the event loop's side, while the worker thread waits on the query: the producer then raises."""
    try:
        driver_connection.cancel_safe(timeout=timeout_seconds)
    except psycopg.Error as error:  # the statement then runs on until the stream next checks for the client
        log.warning("could not cancel a download's statement", error=str(error))


def _start(chunks: Chunks) -> None:
    """Runs the stream up to its marker, in the view: a query that fails before answering is then the view's
    error, which the error handlers answer before any header has gone."""
    try:
        next(chunks, None)
    except psycopg.OperationalError as error:
        # What SQLAlchemy raises when the driver fails under it, so that the kit's handler answers 503.
        raise sqlalchemy.exc.OperationalError(None, None, error) from error


def _stream(
    connection: Connection,
    producer: Producer,
    prefix: bytes,
    gone: Disconnection,
    tally: Tally,
    handed: Handed,
    encoder: StreamEncoder,
) -> Chunks:
    """The body's chunks, encoded, and kept in `tally` as they go (their bytes before encoding: the file's)
    and in `handed`; it stays abandoned unless the stream completes or fails. Its first item is an empty
    marker, yielded once the producer has its first piece (see `_start`)."""
    try:
        if gone.is_set():
            raise ClientDisconnected
        with closing(producer(connection)) as produced:
            pieces = _rows_into(tally, produced)
            first = prefix + next(pieces, b"")
            yield b""
            # At once: compressors hold the headers back until a body comes, and only once they are out
            # does a failure break the transfer rather than turn into an error response.
            tally.bytes = 0
            for chunk in itertools.chain([first] if first else [], chunked(pieces, gone)):
                encoded = encoder.compress(chunk)
                tally.bytes += len(chunk)
                handed.add(len(encoded), len(chunk))
                yield encoded
            yield encoder.finish()
        tally.outcome = Outcome.COMPLETE
    except ClientDisconnected:
        pass  # abandoned
    except Exception:
        if gone.is_set():
            return  # abandoned: its statement was cancelled because the client had gone
        tally.outcome = Outcome.FAILED
        raise


def _rows_into(tally: Tally, produced: Produced) -> Iterator[bytes]:
    """The producer's bytes; the row count it returns at the end goes into `tally`."""
    tally.rows = yield from produced


class Handed:
    """What a download has handed to the network, chunk by chunk: the bytes sent (encoded, as on the wire)
    and the file's bytes they carry, so that a count of bytes the client acknowledged can be read as
    the file's bytes it received."""

    def __init__(self) -> None:
        self._wire = [0]  # running totals, one a chunk
        self._file = [0]

    def add(self, wire_bytes: int, file_bytes: int) -> None:
        self._wire.append(self._wire[-1] + wire_bytes)
        self._file.append(self._file[-1] + file_bytes)

    def file_bytes_within(self, wire_bytes: int) -> int:
        """The file's bytes in every chunk the first `wire_bytes` reach into, the last one whole: at least
        what those bytes carry (the response head counted with the body only adds to it)."""
        reached = min(bisect.bisect_left(self._wire, wire_bytes), len(self._file) - 1)
        return self._file[reached]


class _End:
    """How the download ended, reported once: as its body closes, or from the event loop at once when the
    server's shutdown cuts it (its thread may learn of it only once the loop has stopped, too late)."""

    def __init__(
        self,
        tally: Tally,
        audit: AuditedAccess | None,
        sink: AuditSink | None,
        gone: Disconnection,
        delivery: TcpDelivery | None,
    ) -> None:
        self.tally = tally
        self.audit = audit
        self.sink = sink
        self.gone = gone
        self.handed = Handed()
        self._delivery = delivery
        # What the client had acknowledged on its connection before this response (earlier ones on it).
        self._acknowledged_before = delivery.acknowledged() if delivery is not None else None
        self._reported = False
        self._lock = threading.Lock()

    def report_if_cut_at_shutdown(self) -> None:
        if self.gone.by_shutdown:
            self.report()

    def report(self) -> None:
        with self._lock:
            if self._reported:
                return
            self._reported = True
        tally = self.tally
        if self.gone.by_shutdown and tally.outcome is not Outcome.FAILED:
            tally.outcome = Outcome.CUT_AT_SHUTDOWN
        if tally.outcome is not Outcome.COMPLETE and tally.bytes:
            tally.bytes = min(tally.bytes, self._file_bytes_received())
        log.info(f"download {tally.outcome}", rows=tally.rows, bytes=tally.bytes)
        if self.audit is not None:
            write_audit_event(self.audit, tally, self.sink)

    def _file_bytes_received(self) -> int:
        """The file's bytes in the chunks the client's TCP acknowledged (any part of); without a count from
        the kernel, all that was handed over."""
        now = self._delivery.acknowledged() if self._delivery is not None else None
        if now is None or self._acknowledged_before is None:
            return self.tally.bytes or 0
        return self.handed.file_bytes_within(now - self._acknowledged_before)


def chunked(pieces: Iterable[bytes], gone: Disconnection) -> Iterator[bytes]:
    """Pieces joined into chunks of about CHUNK_BYTES; raises ClientDisconnected once the client has gone."""
    for chunk in in_blocks(pieces, CHUNK_BYTES):
        if gone.is_set():
            raise ClientDisconnected
        yield chunk


def in_blocks(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """`pieces` joined into blocks of at least `size` bytes, but for the last."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
