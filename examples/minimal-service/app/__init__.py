"""The service: `create_app()` composes the kit with the service's settings and spec."""

from __future__ import annotations

from config import PROJECT_ROOT, Settings
from servicekit import ServiceApp, load_settings, service_app

SPECIFICATION = PROJECT_ROOT / "api-spec.yml"


def create_app(settings: Settings | None = None) -> ServiceApp:
    return service_app(__name__, settings or load_settings(Settings), SPECIFICATION)
