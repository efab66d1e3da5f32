"""COPY streamed in blocks: the same bytes and row count PostgreSQL wrote, in few large pieces."""

from __future__ import annotations

from sqlalchemy import Connection, text

from servicekit.copy_out import BLOCK_BYTES, copied_csv, in_blocks


def test_a_copy_arrives_whole_in_blocks_with_its_row_count(db_connection: Connection) -> None:
    statement = text("SELECT n, 'a, \"quoted\" value' FROM generate_series(1, :rows) AS n").bindparams(rows=20_000)
    copy = copied_csv(db_connection, statement)
    blocks = []
    try:
        while True:
            blocks.append(next(copy))
    except StopIteration as end:
        rows = end.value
    assert rows == 20_000
    assert b"".join(blocks) == b"".join(b'%d,"a, ""quoted"" value"\n' % n for n in range(1, 20_001))
    assert all(len(block) >= BLOCK_BYTES for block in blocks[:-1])
    assert len(blocks) < 20_000 * 25 / BLOCK_BYTES + 2


def test_blocks_keep_every_byte_in_order() -> None:
    pieces = [b"x" * size for size in (3, 5, 1, 7, 2)]
    assert list(in_blocks(pieces, size=8)) == [b"x" * 8, b"x" * 8, b"x" * 2]
    assert list(in_blocks([], size=8)) == []
