"""The migrations: they build the models' tables, and undo them."""

from __future__ import annotations

from app import MIGRATIONS
from servicekit.testing import assert_migrations_round_trip, assert_models_match_migrations, temporary_database


def test_the_migrations_round_trip(server_url: str) -> None:
    with temporary_database(server_url) as url:
        assert_migrations_round_trip(url, MIGRATIONS)


def test_the_models_and_the_migrations_agree(server_url: str) -> None:
    with temporary_database(server_url) as url:
        assert_models_match_migrations(url, MIGRATIONS)
