"""The fixture service's alembic entry point: the kit runs the migrations, as any service's env.py has it."""

from servicekit.migrations import run_migrations
from tests.fixture_service import FixtureSettings

run_migrations(FixtureSettings)
