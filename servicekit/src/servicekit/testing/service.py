"""What the kit's pytest plugin tests: a service's settings, app factory, spec and migrations."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic

from servicekit.app import ServiceApp
from servicekit.migrations import Migrations
from servicekit.settings import AnySettings, DatabaseSettings, ServiceSettings, load_settings

TEST_ORIGIN = "https://portal.example"
"""The one browser origin test settings allow."""


class MissingMigrations(ValueError):
    """A service with a database described without the migrations that build it."""


@dataclass(frozen=True)
class ServiceUnderTest(Generic[AnySettings]):
    """What the pytest plugin tests: the service's settings class, `create_app` and spec, as the service's
    `service_under_test` fixture returns them."""

    settings_class: type[AnySettings]
    create_app: Callable[[AnySettings], ServiceApp]
    spec: Path
    migrations: Migrations | None = None  # None: a service without a database

    def __post_init__(self) -> None:
        # Without migrations the plugin would make no database, and the settings fall back to a SQLite file.
        if self.migrations is None and issubclass(self.settings_class, DatabaseSettings):
            raise MissingMigrations(
                f"{self.settings_class.__name__} is a DatabaseSettings: the tests need its database built, so pass"
                " the service's migrations: ServiceUnderTest(Settings, create_app, spec=SPEC, migrations=MIGRATIONS)"
            )


def settings_for_tests(settings_class: type[AnySettings], **overrides: object) -> AnySettings:
    """Settings for tests: the test environment, no `.env`, nothing of the developer's own APM server,
    one allowed browser origin, and the given overrides."""
    values: dict[str, object] = {
        "environment": "test",
        "cors_origins": TEST_ORIGIN,
        "elastic_apm_server_url": "",
        "_env_file": None,
    }
    return load_settings(settings_class, **(values | overrides))


def setting_variables(settings_class: type[ServiceSettings]) -> set[str]:
    """The environment variables (upper-cased) a settings class reads."""
    prefix = settings_class.model_config.get("env_prefix") or ""
    return {f"{prefix}{name}".upper() for name in settings_class.model_fields}


def documented_settings(env_example: Path) -> set[str]:
    """The setting names an example env file gives, whether set or left commented out at their default."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", env_example.read_text(), flags=re.MULTILINE))
