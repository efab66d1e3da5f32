"""A query's rows as CSV written by PostgreSQL itself (`COPY ... TO STDOUT`), streamed in blocks.

psycopg hands a COPY over one row at a time. Passed up a download's generators row by row, a million
rows cost about twice the Python a block does, all of it holding the GIL while the event loop waits to
answer the probes; so rows leave here joined into blocks of about BLOCK_BYTES.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement

from servicekit.database import psycopg_connection

BLOCK_BYTES = 64 * 1024


def copied_csv(connection: Connection, statement: ClauseElement) -> Generator[bytes, None, int]:
    """`statement`'s rows as CSV (no header) in blocks, then how many rows there were. Closing the
    generator early makes psycopg cancel the query."""
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    with psycopg_connection(connection).cursor() as cursor:
        with cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params) as copy:
            yield from in_blocks(copy)
        return cursor.rowcount  # set once the COPY has finished


def in_blocks(pieces: Iterable[bytes | bytearray | memoryview], size: int = BLOCK_BYTES) -> Iterator[bytes]:
    """`pieces` joined into blocks of at least `size` bytes, but for the last."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
