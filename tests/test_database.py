"""Directmail's migrations: PostGIS enabled, reversible, on both engines, and in step with the models."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import MIGRATIONS
from servicekit.testing import assert_migrated, temporary_database


def test_migrations_enable_postgis(db_session: Session) -> None:
    assert db_session.scalar(text("SELECT postgis_lib_version()"))
    assert db_session.scalar(text("SELECT ST_SRID(ST_SetSRID(ST_MakePoint(400000, 200000), 27700))")) == 27700


def test_migrations_round_trip(server_url: str) -> None:
    with temporary_database(server_url) as url:
        MIGRATIONS.upgrade(url)
        command.downgrade(MIGRATIONS.config(url), "base")
        MIGRATIONS.upgrade(url)
        assert_migrated(url, MIGRATIONS)


def test_migrations_run_on_the_embedded_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'directmail.sqlite3'}"
    MIGRATIONS.upgrade(url)
    assert_migrated(url, MIGRATIONS)


def test_the_models_and_the_migrations_agree_on_postgresql(server_url: str) -> None:
    with temporary_database(server_url, MIGRATIONS) as url:
        command.check(MIGRATIONS.config(url))  # raises when autogenerate would write a migration


def test_the_models_and_the_migrations_agree_on_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'check.sqlite3'}"
    MIGRATIONS.upgrade(url)
    command.check(MIGRATIONS.config(url))
