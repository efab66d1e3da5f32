"""Alembic's entry point: the kit runs the migrations, under its lock and limits (servicekit.migrations)."""

from __future__ import annotations

from app.models import Base
from config import Settings
from servicekit.migrations import run_migrations

run_migrations(Settings, Base.metadata)
