"""Directmail's migrations: PostGIS enabled, reversible, on both engines, and in step with the models."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from app import MIGRATIONS
from app.models import Base
from servicekit.testing import assert_migrations_round_trip, assert_models_match_migrations, temporary_database


def test_migrations_enable_postgis(db_session: Session) -> None:
    assert db_session.scalar(text("SELECT postgis_lib_version()"))
    assert db_session.scalar(text("SELECT ST_SRID(ST_SetSRID(ST_MakePoint(400000, 200000), 27700))")) == 27700


def test_migrations_round_trip(server_url: str) -> None:
    with temporary_database(server_url) as url:
        assert_migrations_round_trip(url, MIGRATIONS)


def test_migrations_run_on_the_embedded_sqlite(tmp_path) -> None:
    assert_migrations_round_trip(f"sqlite:///{tmp_path / 'nested' / 'directmail.sqlite3'}", MIGRATIONS)


def test_the_models_and_the_migrations_agree_on_postgresql(server_url: str) -> None:
    with temporary_database(server_url) as url:
        assert_models_match_migrations(url, MIGRATIONS)


def test_the_models_and_the_migrations_agree_on_sqlite(tmp_path) -> None:
    assert_models_match_migrations(f"sqlite:///{tmp_path / 'check.sqlite3'}", MIGRATIONS)


def column_types(database_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Each column's type as the models declare it and as the database reports it, in the database's DDL."""
    engine = create_engine(database_url)
    try:
        inspector = inspect(engine)
        declared, reflected = {}, {}
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                declared[f"{table.name}.{column.name}"] = column.type.compile(dialect=engine.dialect)
            for found in inspector.get_columns(table.name):
                reflected[f"{table.name}.{found['name']}"] = found["type"].compile(dialect=engine.dialect)
        return declared, reflected
    finally:
        engine.dispose()


# Alembic's check lets a length set on one side only pass (VARCHAR against VARCHAR(8)): these compare whole types.
def test_every_column_has_the_declared_type_on_postgresql(server_url: str) -> None:
    with temporary_database(server_url, MIGRATIONS) as url:
        declared, reflected = column_types(url)
    assert reflected == declared


def test_every_column_has_the_declared_type_on_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'types.sqlite3'}"
    MIGRATIONS.upgrade(url)
    declared, reflected = column_types(url)
    assert reflected == declared
