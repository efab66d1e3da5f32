"""A query's rows as CSV written by PostgreSQL itself (`COPY ... TO STDOUT`), streamed in blocks.

Every row a download reads costs Python that holds the GIL, while the event loop waits for it to answer
the probes. psycopg hands a COPY over a row at a time through four Python frames (0.7 s of the GIL for
a million rows here); the rows are read here straight off libpq, through `Connection.pgconn`, the
escape hatch psycopg documents for what it does not wrap (0.3 s), and leave joined into blocks of about
BLOCK_BYTES. psycopg still starts each COPY, and ends one left early (cancelled, drained).

A statement run for several parameter sets can run on two backends, when the connection comes with a
second one seeing its snapshot (the HELPER_BACKEND execution option, which `servicekit.Downloads` sets):
the runs alternate between them, and while one run's rows are being sent the next run's backend already
works, keeping up to AHEAD_BYTES of it. PostgreSQL, not Python, is what a download waits for, and this
lets it use two cores where one statement uses one. The bytes and their order are the same.
"""

from __future__ import annotations

import datetime as dt
import re
import select
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.expression import Executable

from servicekit.database import psycopg_connection
from servicekit.internals.psycopg import error_from_result

__all__ = ["copied_csv"]

BLOCK_BYTES = 64 * 1024
# An execution option: a callable giving a context manager, in which a second connection seeing the first's
# snapshot and settings is had by calling what it yields (connected only then), for `copied_csv` to run
# every other parameter set on.
HELPER_BACKEND = "servicekit_helper_backend"
# How much of the next run a second backend may send before its turn; past it, that backend waits on its
# socket. Measured: 512 KiB keeps the speed of 2 MiB, and ten exports at once within 200 MB (2 MiB: 277 MB,
# as much again held in the compressors' and the queues' copies).
AHEAD_BYTES = 8 * BLOCK_BYTES
_NO_WAIT = 1  # get_copy_data's async mode: 0 when no whole row has arrived, rather than blocking
_ROWS_FETCHED = 1000  # rows a cursor hands over at a time, off PostgreSQL
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def copied_csv(
    connection: Connection,
    statement: ClauseElement,
    parameter_sets: Iterable[Mapping[str, Any]] = ({},),
    *,
    header: bool = False,
) -> Generator[bytes, None, int]:
    """`statement`'s rows as CSV in blocks, then how many rows there were (a header is no row). With
    `header`, PostgreSQL writes the columns' names (the statement's labels) first, once: with the first
    of `parameter_sets`, so none at all without one. The statement is compiled once and run for each of
    `parameter_sets` in turn, its rows following on: built and compiled anew for each run, it would cost
    the GIL a millisecond a run, and leave garbage that only the cyclic collector frees (holding the GIL
    as long as it takes). Closing the generator early makes psycopg cancel the query."""
    if connection.dialect.name != "postgresql":
        return (yield from _cursor_csv(connection, statement, parameter_sets, header=header))
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    copy = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
    headed = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, HEADER)" if header else copy
    runs = [(headed if run == 0 else copy, compiled.params | values) for run, values in enumerate(parameter_sets)]
    helper_backend: HelperBackend | None = connection.get_execution_options().get(HELPER_BACKEND)
    if helper_backend is None or len(runs) < 2:
        return (yield from _one_backend(psycopg_connection(connection), runs))
    with helper_backend() as helper:
        return (yield from _two_backends(psycopg_connection(connection), lambda: psycopg_connection(helper()), runs))


Run = tuple[str, Mapping[str, Any]]  # a COPY statement and its parameters
HelperBackend = Callable[[], AbstractContextManager[Callable[[], Connection]]]


def _one_backend(driver_connection: psycopg.Connection[Any], runs: list[Run]) -> Generator[bytes, None, int]:
    block = bytearray()
    rows = 0
    with driver_connection.cursor() as cursor:
        for query, values in runs:
            with cursor.copy(query, values):
                rows += yield from _rows_read(driver_connection, block)
    if block:
        yield bytes(block)
    return rows


def _two_backends(
    driver_connection: psycopg.Connection[Any], helper: Callable[[], psycopg.Connection[Any]], runs: list[Run]
) -> Generator[bytes, None, int]:
    """The runs alternating between the connection and its helper, each run started as soon as its
    connection is free (its run before last sent), its rows kept while an earlier run's are sent. The
    helper is connected before the first byte: a database lost while connecting it then fails the request,
    and a download under way never waits on a connection being made. Its second run starts once the first
    block has gone, so that the first byte waits for one backend only."""
    block = bytearray()
    rows = 0
    with ExitStack() as under_way:
        cursors = [under_way.enter_context(connection.cursor()) for connection in (driver_connection, helper())]
        started: dict[int, _Started] = {}

        def start(run: int) -> None:
            if run < len(runs) and run not in started:
                started[run] = under_way.enter_context(_Started(cursors[run % 2], *runs[run]))

        start(0)
        for run in range(len(runs)):
            current = started.pop(run)
            yield from _blocks_of(current.take_kept(), block)
            while current.rows is None:
                size, row = current.read(_NO_WAIT)
                if size > 0:
                    block += row
                elif size == 0:
                    _input_awaited_on_either(current, started.get(run + 1))
                else:
                    current.ended()
                if len(block) >= BLOCK_BYTES:
                    yield bytes(block)
                    block.clear()
                    start(run + 1)
            rows += current.rows
            current.close()
            start(run + 1)
            start(run + 2)
    if block:
        yield bytes(block)
    return rows


def _blocks_of(kept: bytearray, block: bytearray) -> Iterator[bytes]:
    """What a run kept while it waited, added to `block`, which is yielded (and emptied) each time it is
    full: in blocks as ever, never as one piece of up to AHEAD_BYTES for every stage after to copy whole."""
    offset = 0
    while len(block) + len(kept) - offset >= BLOCK_BYTES:
        taken = BLOCK_BYTES - len(block)
        block += kept[offset : offset + taken]
        offset += taken
        yield bytes(block)
        block.clear()
    block += kept[offset:]


class _Started:
    """A COPY under way on a connection of its own; what it sends before its turn is kept (AHEAD_BYTES
    at most: past that its backend waits, its socket full). A context manager: left early, psycopg cancels it."""

    def __init__(self, cursor: psycopg.Cursor[Any], query: str, values: Mapping[str, Any]) -> None:
        self.driver_connection = cursor.connection
        self.pgconn = cursor.connection.pgconn
        self.read = self.pgconn.get_copy_data
        self.kept = bytearray()
        self.rows: int | None = None  # once it has ended
        self._copy = ExitStack()
        self._copy.enter_context(cursor.copy(query, values))

    def __enter__(self) -> _Started:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is not None and not issubclass(kind, GeneratorExit):
            # The download fails (a backend lost, cut by the database watch, timed out): this connection is
            # closed rather than its COPY cancelled, for a cancel request would go down a route that may
            # just have failed, and wait on it. A closed connection is discarded, not pooled again.
            self.pgconn.finish()
        self._copy.__exit__(kind, error, traceback)  # psycopg cancels a COPY left with an exception only

    def close(self) -> None:
        self._copy.close()

    def take_kept(self) -> bytearray:
        kept, self.kept = self.kept, bytearray()
        return kept

    def wants_input(self) -> bool:
        return self.rows is None and len(self.kept) < AHEAD_BYTES

    def take_in(self) -> None:
        """What has arrived, kept (up to AHEAD_BYTES)."""
        self.pgconn.consume_input()
        while self.wants_input():
            size, row = self.read(_NO_WAIT)
            if size > 0:
                self.kept += row
            elif size == 0:
                return
            else:
                self.ended()

    def ended(self) -> None:
        self.rows = _row_count(self.driver_connection)


def _input_awaited_on_either(current: _Started, ahead: _Started | None) -> None:
    """Waits, without the GIL, until the current run's server has sent more (taken in); meanwhile keeps
    what the run ahead sends, while it may."""
    readable = select.poll()
    readable.register(current.pgconn.socket, select.POLLIN)
    if ahead is not None and ahead.wants_input():
        readable.register(ahead.pgconn.socket, select.POLLIN)
    for socket, _event in readable.poll():
        if socket == current.pgconn.socket:
            current.pgconn.consume_input()
        elif ahead is not None:
            ahead.take_in()


def _rows_read(driver_connection: psycopg.Connection[Any], block: bytearray) -> Generator[bytes, None, int]:
    """A COPY under way, its rows added to `block`, which is yielded (and emptied) each time it is full;
    then the COPY's row count, or its error (cancelled, timed out, the connection lost) raised."""
    pgconn = driver_connection.pgconn
    read = pgconn.get_copy_data
    while True:
        size, row = read(_NO_WAIT)
        if size > 0:
            block += row
            if len(block) >= BLOCK_BYTES:
                yield bytes(block)
                block.clear()
        elif size == 0:
            _input_awaited(pgconn)
        else:  # the COPY has ended: nothing may be yielded until its result is read, or psycopg would wait for more
            return _row_count(driver_connection)


def _row_count(driver_connection: psycopg.Connection[Any]) -> int:
    pgconn = driver_connection.pgconn
    outcome = _next_result(pgconn)
    while _next_result(pgconn) is not None:  # to the end of the exchange, for the connection's next statement
        pass
    assert outcome is not None, "libpq gives a COPY's outcome as it ends"
    if outcome.status != pq.ExecStatus.COMMAND_OK:
        raise error_from_result(outcome, encoding=driver_connection.info.encoding)
    return outcome.command_tuples or 0


def _next_result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    while pgconn.is_busy():
        _input_awaited(pgconn)
    return pgconn.get_result()


def _input_awaited(pgconn: pq.abc.PGconn) -> None:
    """Waits, without the GIL, until the server has sent more, and takes it in."""
    readable = select.poll()
    readable.register(pgconn.socket, select.POLLIN)
    readable.poll()
    pgconn.consume_input()


def _cursor_csv(
    connection: Connection, statement: ClauseElement, parameter_sets: Iterable[Mapping[str, Any]], *, header: bool
) -> Generator[bytes, None, int]:
    assert isinstance(statement, Executable), "a statement that runs"
    streamed = connection.execution_options(stream_results=True)
    block: list[str] = []
    size = rows = 0
    for run, values in enumerate(parameter_sets):
        with streamed.execute(statement, dict(values)) as result:
            if header and run == 0:
                block.append(_csv_line(list(result.keys())))
            for fetched in result.partitions(_ROWS_FETCHED):
                rows += len(fetched)
                lines = "".join(_csv_line(row) for row in fetched)
                block.append(lines)
                size += len(lines)
                if size >= BLOCK_BYTES:
                    yield "".join(block).encode()
                    block.clear()
                    size = 0
    if block:
        yield "".join(block).encode()
    return rows


def _csv_line(values: Sequence[Any]) -> str:
    return ",".join(_csv_field(value) for value in values) + "\n"


def _csv_field(value: Any) -> str:
    """A value as PostgreSQL's COPY writes it in CSV: NULL as nothing, an empty string quoted (so that the
    two differ), a value holding a comma, quote or line break quoted, booleans `t` and `f`, dates and times
    ISO (a space between date and time, no trailing zeros in the fraction, an offset in whole hours as
    `+01`), bytes as `\\x` and hex, and a number as Python writes it (a float without a trailing `.0`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime | dt.time):
        text = _moment(value)
    elif isinstance(value, bytes | bytearray | memoryview):
        text = "\\x" + bytes(value).hex()
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    if not text or _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _moment(value: dt.datetime | dt.time) -> str:
    naive = value.replace(tzinfo=None)
    text = naive.isoformat(sep=" ") if isinstance(naive, dt.datetime) else naive.isoformat()
    if naive.microsecond:
        text = text.rstrip("0")
    offset = value.utcoffset()
    if offset is None:
        return text
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(offset) // dt.timedelta(minutes=1)
    hours, minutes = divmod(minutes, 60)
    return f"{text}{sign}{hours:02d}" + (f":{minutes:02d}" if minutes else "")
