"""Directmail's settings: the kit's, plus its own, every one documented in .env.example."""

from __future__ import annotations

import pytest

from config import PROJECT_ROOT, Settings
from servicekit import SettingsError, load_settings
from servicekit.testing import documented_settings


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    assert documented_settings(PROJECT_ROOT / ".env.example") == {name.upper() for name in Settings.model_fields}


def test_without_environment_it_refuses_to_start_on_the_embedded_database() -> None:
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: must be set outside local and test$"):
        load_settings(Settings, _env_file=None)


def test_local_serves_on_the_embedded_database() -> None:
    settings = load_settings(Settings, _env_file=None, environment="local")
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'directmail.sqlite3'}"
    assert settings.export_concurrency == 4
    assert settings.api_scope_prefix == "api://directmail"


def test_downloads_always_leave_flask_a_thread() -> None:
    with pytest.raises(SettingsError, match=r"^EXPORT_CONCURRENCY: must be below WORKER_THREADS \(10\)"):
        load_settings(Settings, _env_file=None, environment="local", export_concurrency=10)
    settings = load_settings(Settings, _env_file=None, environment="local", export_concurrency=10, worker_threads=16)
    assert settings.export_concurrency == 10
