"""The alembic environment of a service whose migrations are `Migrations.of(versions, metadata)`: the kit
runs them, under its lock and limits, with what `Migrations.config()` gave alembic."""

from __future__ import annotations

from alembic import context

from servicekit.migrations import run_kit_migrations

run_kit_migrations(context.config)
