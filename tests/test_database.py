"""The database harness and set-up: PostGIS via migrations, pooled like Flask's threads, isolated tests."""

from __future__ import annotations

import connexion
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.database import FLASK_THREADS, Database, alembic_config, migrate
from tests.conftest import assert_migrated, create_database, drop_database

PROBE_SRID = 990001


def test_migrations_enable_postgis(db_session: Session) -> None:
    assert db_session.scalar(text("SELECT postgis_lib_version()"))
    assert db_session.scalar(text("SELECT ST_SRID(ST_SetSRID(ST_MakePoint(400000, 200000), 27700))")) == 27700


def test_the_pool_matches_flasks_threads(app: connexion.FlaskApp, database: Database) -> None:
    # Connexion keeps its a2wsgi bridge private; reading it here catches a release that changes the pool.
    flask_threads = app._middleware_app.asgi_app.executor._max_workers
    assert flask_threads == FLASK_THREADS == 10
    assert database.engine.pool.size() == flask_threads  # type: ignore[attr-defined]


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_test_starts_from_a_clean_database(db_session: Session, database: Database, attempt: int) -> None:
    """Run twice: the second run fails if the first one's write survived."""
    exists = text("SELECT count(*) FROM spatial_ref_sys WHERE srid = :srid")
    assert db_session.scalar(exists, {"srid": PROBE_SRID}) == 0
    db_session.execute(
        text("INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid) VALUES (:srid, 'test', :srid)"),
        {"srid": PROBE_SRID},
    )
    db_session.commit()  # a savepoint inside the test's transaction, not a real commit
    with database.session() as app_session:  # the app's own sessions see the test's writes
        assert app_session.scalar(exists, {"srid": PROBE_SRID}) == 1


def test_migrations_round_trip(server_url: str) -> None:
    url = create_database(server_url, migrated=False)
    try:
        config = alembic_config(url)
        migrate(url)
        command.downgrade(config, "base")
        migrate(url)
        assert_migrated(url)
    finally:
        drop_database(server_url, url)


def test_migrations_run_on_the_embedded_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'directmail.sqlite3'}"
    migrate(url)
    assert_migrated(url)


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_the_models_and_the_migrations_agree(server_url: str, tmp_path, engine: str) -> None:
    url = create_database(server_url) if engine == "postgresql" else f"sqlite:///{tmp_path / 'check.sqlite3'}"
    try:
        migrate(url)
        command.check(alembic_config(url))  # raises when autogenerate would write a migration
    finally:
        if engine == "postgresql":
            drop_database(server_url, url)
