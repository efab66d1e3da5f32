"""The migrations: they build the models' tables, and undo them."""

from __future__ import annotations

from alembic import command

from app import MIGRATIONS
from servicekit.testing import assert_migrated, temporary_database


def test_the_migrations_round_trip(server_url: str) -> None:
    with temporary_database(server_url) as url:
        MIGRATIONS.upgrade(url)
        command.downgrade(MIGRATIONS.config(url), "base")
        MIGRATIONS.upgrade(url)
        assert_migrated(url, MIGRATIONS)


def test_the_models_and_the_migrations_agree(server_url: str) -> None:
    with temporary_database(server_url, MIGRATIONS) as url:
        command.check(MIGRATIONS.config(url))  # raises when autogenerate would write a migration
