"""Both export paths, PostgreSQL's COPY and SQLite's cursor, write the same bytes for the same data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from app import MIGRATIONS
from app.data_queries import CSV_HEADER, csv_rows, mailing_list, mailing_list_pieces
from app.data_types import ExportFilters
from tests.conftest import DEMO_PREMISES, seed


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('embedded') / 'directmail.sqlite3'}"
    MIGRATIONS.upgrade(url)
    seed(url, DEMO_PREMISES)  # the same deterministic data as the session's PostgreSQL database
    engine = create_engine(url)
    yield engine
    engine.dispose()


def export(engine: Engine, filters: ExportFilters) -> bytes:
    with engine.connect() as connection:
        return b"".join(mailing_list_pieces(connection, filters))


def export_as_one_statement(engine: Engine, filters: ExportFilters) -> bytes:
    with engine.connect() as connection:
        return CSV_HEADER + b"".join(csv_rows(connection, mailing_list(filters)))


FILTERS = pytest.mark.parametrize(
    "filters",
    [
        ExportFilters(),
        ExportFilters(rfs=True, segments=("S1", "S2")),
        ExportFilters(communities=("Ashton Keynes, Wiltshire", "Tŷ Croes", "Bishop's Castle")),
        ExportFilters(business=False, bduk=True),
        ExportFilters(rfs_date_after=dt.date(2018, 1, 1)),
        ExportFilters(communities=("Nowhere",)),
    ],
    ids=["all", "rfs-segments", "awkward-names", "flags", "dates", "no-rows"],
)


@FILTERS
def test_copy_and_cursor_give_identical_bytes(database_url: str, sqlite_engine: Engine, filters: ExportFilters) -> None:
    postgres = create_engine(database_url)
    try:
        assert export(postgres, filters) == export(sqlite_engine, filters)
    finally:
        postgres.dispose()


@FILTERS
def test_walking_the_communities_gives_the_bytes_of_one_sorted_statement(
    database_url: str, sqlite_engine: Engine, filters: ExportFilters
) -> None:
    postgres = create_engine(database_url)
    try:
        assert export(postgres, filters) == export_as_one_statement(postgres, filters)
    finally:
        postgres.dispose()
    assert export(sqlite_engine, filters) == export_as_one_statement(sqlite_engine, filters)
