"""Both export paths, PostgreSQL's COPY and SQLite's cursor, write the same bytes for the same data; and
PostgreSQL writes them off the export index alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine

from app import MIGRATIONS
from app.data_queries import (
    CSV_HEADER,
    FORMULA_STARTS,
    community_part,
    csv_rows,
    keep_to_the_index,
    listed_communities,
    mailing_list,
    mailing_list_pieces,
)
from app.data_types import ExportFilters
from app.models import SEGMENTS
from tests.conftest import DEMO_PREMISES, demo_database, seed


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


def test_each_community_is_read_off_the_export_index_alone(server_url: str, database_prefix: str) -> None:
    """On a vacuumed table (as seeding leaves it), a community's part is an index-only scan that visits no
    heap page: a column the CSV writes and the export index does not hold would cost a heap page a row."""
    with demo_database(server_url, 500, database_prefix) as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                keep_to_the_index(connection)
                community = connection.execute(listed_communities(ExportFilters())).mappings().first()
                assert community is not None
                part = community_part(ExportFilters()).compile(
                    dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
                )
                explained = f"EXPLAIN (ANALYZE, FORMAT JSON) {part}"
                plan = connection.exec_driver_sql(explained, part.params | dict(community)).scalar_one()
        finally:
            engine.dispose()
    premises_scans = [node for node in plan_nodes(plan[0]["Plan"]) if node.get("Relation Name") == "premises"]
    assert [(node["Node Type"], node["Index Name"], node["Heap Fetches"]) for node in premises_scans] == [
        ("Index Only Scan", "premises_export", 0)
    ]


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def test_no_segment_starts_a_formula() -> None:
    """The export writes segments as they are, trusting the CHECK that admits only these."""
    assert [segment for segment in SEGMENTS if segment.startswith(FORMULA_STARTS)] == []
