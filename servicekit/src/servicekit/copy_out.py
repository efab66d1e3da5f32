"""A query's rows as CSV written by PostgreSQL itself (`COPY ... TO STDOUT`), streamed in blocks.

Every row a download reads costs Python that holds the GIL, while the event loop waits for it to answer
the probes. psycopg hands a COPY over a row at a time through four Python frames (0.7 s of the GIL for
a million rows here); the rows are read here straight off libpq, through `Connection.pgconn`, the
escape hatch psycopg documents for what it does not wrap (0.3 s), and leave joined into blocks of about
BLOCK_BYTES. psycopg still starts each COPY, and ends one left early (cancelled, drained).
"""

from __future__ import annotations

import datetime as dt
import re
import select
from collections.abc import Generator, Iterable, Mapping, Sequence
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
    copy, fixed = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params
    headed = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, HEADER)" if header else copy
    driver_connection = psycopg_connection(connection)
    block = bytearray()
    rows = 0
    with driver_connection.cursor() as cursor:
        for run, values in enumerate(parameter_sets):
            with cursor.copy(headed if run == 0 else copy, fixed | values):
                rows += yield from _rows_read(driver_connection, block)
    if block:
        yield bytes(block)
    return rows


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
