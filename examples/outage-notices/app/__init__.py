"""The service: `create_app()` composes the kit with the service's settings, spec and database."""

from __future__ import annotations

from app.models import Base
from app.notices import NoticeNotFound
from config import PROJECT_ROOT, Settings
from servicekit import Database, Downloads, Migrations, ServiceApp, load_settings, service_app

SPECIFICATION = PROJECT_ROOT / "api-spec.yml"
MIGRATIONS = Migrations.of(PROJECT_ROOT / "migrations", Base.metadata)


def create_app(settings: Settings | None = None) -> ServiceApp:
    settings = settings or load_settings(Settings)
    database = Database.from_settings(settings, MIGRATIONS)
    downloads = Downloads.from_settings(database, settings)
    return service_app(
        __name__, settings, SPECIFICATION, database=database, parts=[downloads], problems={NoticeNotFound: 404}
    )
