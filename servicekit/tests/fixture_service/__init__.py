"""A small service for the kit's own tests, built on the kit alone as any service is (settings, spec,
views, migrations), whose operations exercise the plumbing: slow, failing, streaming, large and
authenticated ones."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from servicekit import Database, DatabaseSettings, Downloads, Migrations, ServiceApp, load_settings, service_app
from servicekit.audit_store import AuditStore
from tests.fixture_service.views import Conflict

ROOT = Path(__file__).parent
SPECIFICATION = ROOT / "api.yml"
VIEWS = f"{__name__}.views"
MIGRATIONS = Migrations(ROOT / "alembic.ini")


class FixtureSettings(DatabaseSettings):
    service_name: ClassVar[str] = "fixture-service"
    service_root: ClassVar[Path] = ROOT

    download_concurrency: int = Field(2, ge=1, le=9)
    download_concurrency_per_caller: int = Field(1, ge=1, le=9)
    download_idle_seconds: float = Field(30, gt=0)
    download_statement_timeout_seconds: float = Field(300, gt=0)


def create_app(settings: FixtureSettings | None = None) -> ServiceApp:
    settings = settings or load_settings(FixtureSettings)
    database = Database.from_settings(settings, MIGRATIONS)
    downloads = Downloads(
        database,
        settings.download_concurrency,
        concurrency_per_caller=settings.download_concurrency_per_caller,
        idle_seconds=settings.download_idle_seconds,
        statement_timeout_seconds=settings.download_statement_timeout_seconds,
        compression=settings.compression_levels,
    )
    return service_app(
        __name__,
        settings,
        SPECIFICATION,
        database=database,
        parts=[downloads, AuditStore(database, settings.audit_retention_days)],
        problems={Conflict: 409},
        views=VIEWS,
    )
