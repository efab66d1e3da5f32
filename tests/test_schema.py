"""The schema as the databases hold it: postcode's length and collation, the segment check, community ids."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, replace

import pytest
from alembic import command
from sqlalchemy import Connection, create_engine, func, insert, make_url, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateTable

from app import MIGRATIONS
from app.demo_data import demo_communities, demo_premises
from app.models import SEGMENTS, Base, Community, Premises, data_version
from servicekit.testing import temporary_database
from tests.conftest import seed


@pytest.fixture(params=["postgresql", "sqlite"])
def seeded_connection(request: pytest.FixtureRequest, tmp_path) -> Iterator[Connection]:
    """A connection, in a transaction, to a migrated database holding the demo data; no other test sees its writes."""
    if request.param == "postgresql":
        yield request.getfixturevalue("db_connection")
        return
    url = f"sqlite:///{tmp_path / 'directmail.sqlite3'}"
    MIGRATIONS.upgrade(url)
    seed(url, 100)
    engine = create_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            yield connection
    finally:
        engine.dispose()


def postcode_column(connection: Connection) -> tuple[int | None, str | None]:
    row = connection.execute(
        text(
            "SELECT character_maximum_length, collation_name FROM information_schema.columns"
            " WHERE table_name = 'premises' AND column_name = 'postcode'"
        )
    ).one()
    return row.character_maximum_length, row.collation_name


def a_premises(segment: str) -> dict[str, object]:
    return asdict(replace(next(demo_premises(1)), uprn=1, segment=segment))


def a_new_community() -> dict[str, object]:
    return {"salesforce_id": "a0B8d00000NEW00001", "name": "Cwm Newydd", "rfs": False}


def test_postcodes_keep_their_length_under_the_c_collation(db_connection: Connection) -> None:
    assert postcode_column(db_connection) == (8, "C")


def test_the_segment_check_holds_the_segments_as_sql_literals(db_connection: Connection) -> None:
    definition = db_connection.scalar(
        text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'premises_segment_known'")
    )
    # PostgreSQL keeps `segment IN (...)` in its normalised form, `= ANY (ARRAY[...])`.
    segments = ", ".join(f"'{segment}'::character varying" for segment in SEGMENTS)
    assert definition == f"CHECK (((segment)::text = ANY ((ARRAY[{segments}])::text[])))"


@pytest.mark.parametrize("url", ["postgresql+psycopg://", "sqlite://"], ids=["postgresql", "sqlite"])
def test_the_models_write_the_segment_check_in_sql(url: str) -> None:
    dialect = make_url(url).get_dialect()()
    ddl = str(CreateTable(Base.metadata.tables["premises"]).compile(dialect=dialect))
    assert "CHECK (segment IN ('S1', 'S2', 'S3', 'S4', 'S5'))" in ddl


def test_an_unknown_segment_is_refused(seeded_connection: Connection) -> None:
    with pytest.raises(IntegrityError, match="premises_segment_known"), seeded_connection.begin_nested():
        seeded_connection.execute(insert(Premises), [a_premises("S9")])
    seeded_connection.execute(insert(Premises), [a_premises("S5")])


def test_a_community_inserted_without_an_id_follows_the_demo_ones(seeded_connection: Connection) -> None:
    new_id = seeded_connection.scalar(insert(Community).values(a_new_community()).returning(Community.id))
    # Past every demo id; not necessarily the next one: a rolled-back insert still moves a sequence on.
    assert new_id is not None
    assert new_id > len(demo_communities())  # the demo ids are 1 to 50


def test_0003_fixes_a_database_holding_data_and_reverts(server_url: str) -> None:
    with temporary_database(server_url) as url:
        MIGRATIONS.upgrade(url, "0002")
        engine = create_engine(url)
        try:
            with engine.begin() as connection:  # explicit ids, as the demo data wrote them before 0003
                connection.execute(insert(Community), demo_communities())
                connection.execute(insert(Premises), [asdict(row) for row in demo_premises(100)])
            MIGRATIONS.upgrade(url)
            with engine.begin() as connection:
                assert postcode_column(connection) == (8, "C")
                new_id = connection.scalar(insert(Community).values(a_new_community()).returning(Community.id))
                assert new_id == len(demo_communities()) + 1
            command.downgrade(MIGRATIONS.config(url), "0002")
            with engine.connect() as connection:
                assert postcode_column(connection) == (None, "C")
                assert connection.scalar(select(func.count()).select_from(Premises)) == 100
        finally:
            engine.dispose()


def test_every_write_to_communities_or_premises_moves_the_data_version(seeded_connection: Connection) -> None:
    version = select(data_version.c.version)
    before = seeded_connection.scalar(version) or 0
    seeded_connection.execute(
        update(Premises).where(Premises.uprn == select(func.min(Premises.uprn)).scalar_subquery()).values(bduk=True)
    )
    after_premises = seeded_connection.scalar(version) or 0
    seeded_connection.execute(insert(Community).values(a_new_community()))
    assert before < after_premises < (seeded_connection.scalar(version) or 0)


def test_autovacuum_keeps_premises_at_two_percent_of_dead_rows(db_connection: Connection) -> None:
    """At PostgreSQL's default 20%, a million premises carry up to 200,000 dead rows for the export to walk past."""
    options = db_connection.scalar(text("SELECT reloptions FROM pg_class WHERE oid = 'premises'::regclass"))
    assert sorted(options) == [
        "autovacuum_analyze_scale_factor=0.01",
        "autovacuum_vacuum_insert_scale_factor=0.02",
        "autovacuum_vacuum_scale_factor=0.02",
    ]
