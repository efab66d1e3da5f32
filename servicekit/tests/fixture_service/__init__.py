"""A small service for the kit's own tests, built on the kit alone as any service is (settings, spec,
views, migrations), whose operations exercise the plumbing: slow, failing, streaming, large and
authenticated ones."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from servicekit import Database, DatabaseSettings, Downloads, Migrations, ServiceApp, load_settings, service_app
from servicekit.audit_store import AuditStore
from servicekit.settings import DownloadSettings
from tests.fixture_service.views import Conflict

ROOT = Path(__file__).parent
SPECIFICATION = ROOT / "api.yml"
VIEWS = f"{__name__}.views"
MIGRATIONS = Migrations(ROOT / "alembic.ini")


class FixtureSettings(DownloadSettings, DatabaseSettings):
    service_name: ClassVar[str] = "fixture-service"
    service_root: ClassVar[Path] = ROOT

    # A service may narrow what the kit's settings allow.
    export_concurrency: int = Field(2, ge=1, le=9)


def create_app(settings: FixtureSettings | None = None, *, constraints: Mapping[str, int] | None = None) -> ServiceApp:
    settings = settings or load_settings(FixtureSettings)
    database = Database.from_settings(settings, MIGRATIONS)
    downloads = Downloads.from_settings(database, settings)
    return service_app(
        __name__,
        settings,
        SPECIFICATION,
        database=database,
        parts=[downloads, AuditStore(database, settings.audit_retention_days)],
        problems={Conflict: 409},
        constraints=constraints,
        views=VIEWS,
    )
