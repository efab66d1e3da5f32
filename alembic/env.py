"""Alembic's entry point: servicekit runs the migrations (under its lock and limits, see
servicekit.migrations); the URL comes from its Migrations or, run by hand, from config.py."""

from __future__ import annotations

from app.models import Base
from config import Settings
from servicekit.migrations import run_migrations


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """PostGIS's own tables (spatial_ref_sys and the like) are the extension's, not ours."""
    return not (type_ == "table" and reflected and compare_to is None)


run_migrations(Settings, Base.metadata, include_object=include_object, render_as_batch=True)
