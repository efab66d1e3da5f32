"""COPY streamed in blocks: the bytes and row count PostgreSQL wrote, in few large pieces; one statement
run for several sets of values, their rows following on; a failure midway raised, never a short file."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Generator
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    literal,
    literal_column,
    select,
    text,
)
from starlette.testclient import TestClient

from servicekit.copy_out import BLOCK_BYTES, _csv_field, copied_csv
from tests.notices import a_notice


def read_out(copy: Generator[bytes, None, int]) -> tuple[list[bytes], int]:
    blocks = []
    try:
        while True:
            blocks.append(next(copy))
    except StopIteration as end:
        return blocks, end.value


def test_a_copy_arrives_whole_in_blocks_with_its_row_count(db_connection: Connection) -> None:
    statement = text("SELECT n, 'a, \"quoted\" value' FROM generate_series(1, :rows) AS n").bindparams(rows=20_000)
    blocks, rows = read_out(copied_csv(db_connection, statement))
    assert rows == 20_000
    assert b"".join(blocks) == b"".join(b'%d,"a, ""quoted"" value"\n' % n for n in range(1, 20_001))
    assert all(len(block) >= BLOCK_BYTES for block in blocks[:-1])
    assert len(blocks) < 20_000 * 25 / BLOCK_BYTES + 2


def test_one_statement_runs_for_each_set_of_values_in_turn(db_connection: Connection) -> None:
    statement = text("SELECT n, repeat('x', 40) FROM generate_series(:first, :last) AS n")
    runs = [{"first": 1, "last": 3_000}, {"first": 1, "last": 0}, {"first": 5, "last": 9_000}]
    blocks, rows = read_out(copied_csv(db_connection, statement, runs))
    numbers = [*range(1, 3_001), *range(5, 9_001)]
    assert rows == len(numbers)
    assert b"".join(blocks) == b"".join(b"%d,%s\n" % (n, b"x" * 40) for n in numbers)
    # A run's last rows share a block with the next run's first: no block is short but the last.
    assert all(len(block) >= BLOCK_BYTES for block in blocks[:-1])


def test_a_failure_midway_raises_rather_than_ending_the_rows_short(db_connection: Connection) -> None:
    statement = text("SELECT 1 / (n - 15000) FROM generate_series(1, 20000) AS n")
    copy = copied_csv(db_connection, statement)
    with pytest.raises(psycopg.errors.DivisionByZero):
        read_out(copy)


def test_a_header_names_the_columns_once_and_is_no_row(db_connection: Connection) -> None:
    statement = text("SELECT n AS number, 'x' AS \"letter, quoted\" FROM generate_series(:first, :last) AS n")
    runs = [{"first": 1, "last": 2}, {"first": 7, "last": 7}]
    blocks, rows = read_out(copied_csv(db_connection, statement, runs, header=True))
    assert b"".join(blocks) == b'number,"letter, quoted"\n1,x\n2,x\n7,x\n'
    assert rows == 3


def test_a_download_with_a_header_names_its_columns_first(client: TestClient) -> None:
    notice = a_notice(title='Cut, "fibre"', published_on="2026-12-06", starts_at="2026-12-07T09:00:00Z")
    assert client.post("/notices", json=notice).status_code == 201
    lines = client.get("/notices.csv", params={"area": notice["area"]}).text.splitlines()
    assert lines[0] == "reference,title,contact,link,area,published_on,starts_at,ends_at,note_id"
    assert lines[1].startswith(f'{notice["reference"]},"Cut, ""fibre""",noc@isp.test,')
    assert len(lines) == 2


# The values where PostgreSQL's CSV is particular: NULL against an empty string, quoting, booleans, the
# fraction of a second, a float that is whole, bytes, and a backslash.
KINDS = Table(
    "kinds",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String),
    Column("done", Boolean),
    Column("day", Date),
    Column("moment", DateTime),
    Column("share", Float),
    Column("raw", LargeBinary),
    prefixes=["TEMPORARY"],
)
KIND_ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "plain",
        "done": True,
        "day": dt.date(2026, 12, 7),
        "moment": dt.datetime(2026, 12, 7, 9, 30),
        "share": 2.5,
        "raw": b"\x00\xff",
    },
    {
        "id": 2,
        "name": "",
        "done": False,
        "day": dt.date(2026, 1, 2),
        "moment": dt.datetime(2026, 12, 7, 9, 0, 0, 500_000),
        "share": 3.0,
        "raw": b"",
    },
    {"id": 3, "name": None, "done": None, "day": None, "moment": None, "share": None, "raw": None},
    {
        "id": 4,
        "name": 'a, "quoted"\nvalue',
        "done": True,
        "day": dt.date(2026, 12, 7),
        "moment": dt.datetime(2026, 12, 7, 23, 59, 59, 123_456),
        "share": -0.125,
        "raw": b"csv",
    },
    {
        "id": 5,
        "name": "\\.",
        "done": False,
        "day": dt.date(2026, 12, 7),
        "moment": dt.datetime(2026, 12, 7),
        "share": 0.0,
        "raw": b"\\",
    },
]


def kinds_csv(connection: Connection, parameter_sets: list[dict[str, int]]) -> tuple[bytes, int]:
    KINDS.create(connection)
    connection.execute(insert(KINDS), KIND_ROWS)
    statement = select(KINDS).where(KINDS.c.id >= bindparam("first")).order_by(KINDS.c.id)
    blocks, rows = read_out(copied_csv(connection, statement, parameter_sets, header=True))
    return b"".join(blocks), rows


def test_sqlite_writes_the_bytes_postgresql_writes(db_connection: Connection) -> None:
    runs = [{"first": 1}, {"first": 4}]
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        on_sqlite = kinds_csv(connection, runs)
    engine.dispose()
    on_postgresql = kinds_csv(db_connection, runs)
    assert on_sqlite == on_postgresql
    body, rows = on_sqlite
    assert rows == 7
    assert body.splitlines()[:4] == [
        b"id,name,done,day,moment,share,raw",
        b"1,plain,t,2026-12-07,2026-12-07 09:30:00,2.5,\\x00ff",
        b'2,"",f,2026-01-02,2026-12-07 09:00:00.5,3,\\x',
        b"3,,,,,,",
    ]


def test_sqlite_rows_arrive_in_blocks_and_a_header_without_rows_alone() -> None:
    engine = create_engine("sqlite://")
    numbers = select(literal_column("value", Integer).label("n")).select_from(
        text("json_each(:numbers)")  # SQLite's own table of a JSON array's values
    )
    with engine.connect() as connection:
        many = [{"numbers": json.dumps(list(range(n, n + 10_000)))} for n in (0, 10_000)]
        blocks, rows = read_out(copied_csv(connection, numbers, many))
        empty = read_out(copied_csv(connection, numbers, [{"numbers": "[]"}], header=True))
        none = read_out(copied_csv(connection, numbers, [], header=True))
    engine.dispose()
    assert rows == 20_000
    assert b"".join(blocks) == b"".join(b"%d\n" % n for n in range(20_000))
    assert all(len(block) >= BLOCK_BYTES for block in blocks[:-1])
    assert len(blocks) > 1
    assert (empty, none) == (([b"n\n"], 0), ([], 0))


@pytest.mark.parametrize(("hours", "minutes"), [(0, 0), (5, 30), (-1, 0)])
def test_a_moment_with_an_offset_is_written_as_postgresql_writes_it(
    db_connection: Connection, hours: int, minutes: int
) -> None:
    """SQLite keeps no offset, but a driver of another database may hand one over."""
    offset = dt.timedelta(hours=hours, minutes=minutes if hours >= 0 else -minutes)
    moment = dt.datetime(2026, 12, 7, 9, 0, 0, 250_000, tzinfo=dt.timezone(offset))
    db_connection.exec_driver_sql(f"SET LOCAL TIME ZONE INTERVAL '{hours:+03d}:{minutes:02d}' HOUR TO MINUTE")
    statement = select(literal(moment, DateTime(timezone=True)))
    blocks, _ = read_out(copied_csv(db_connection, statement))
    assert b"".join(blocks) == (_csv_field(moment) + "\n").encode()
