"""Directmail: `create_app()` composes the kit's plumbing with Directmail's settings, spec and domain."""

from __future__ import annotations

from app.errors import PROBLEM_STATUSES
from app.summary_cache import SummaryCache
from config import PROJECT_ROOT, SPECIFICATION, Settings
from servicekit import Database, Downloads, Migrations, ServiceApp, load_settings, service_app
from servicekit.audit_store import AuditStore

__all__ = ["MIGRATIONS", "SPECIFICATION", "create_app"]

MIGRATIONS = Migrations(PROJECT_ROOT / "alembic.ini")
SWAGGER_UI = PROJECT_ROOT / "swagger-ui" / "build"  # scripts/build_swagger_ui.sh makes it
# What /readyz shows beside its status: how fresh the communities are.
READINESS_DETAILS = "SELECT max(finished_at) AS salesforce_synced_at FROM salesforce_syncs"


def create_app(settings: Settings | None = None) -> ServiceApp:
    """The ASGI application to serve (never its `.app`: that would skip validation and security)."""
    settings = settings or load_settings(Settings)
    database = Database.from_settings(settings, MIGRATIONS, readiness_details=READINESS_DETAILS)
    downloads = Downloads.from_settings(database, settings)
    return service_app(
        __name__,
        settings,
        SPECIFICATION,
        database=database,
        parts=[
            downloads,
            SummaryCache(settings.summary_cache_entries),
            AuditStore(database, settings.audit_retention_days),
        ],
        problems=PROBLEM_STATUSES,
        swagger_ui=SWAGGER_UI,
    )
