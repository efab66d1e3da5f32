"""The settings: every one is documented in .env.example, and nothing is documented that is not one."""

from __future__ import annotations

from servicekit.testing import documented_settings

from config import PROJECT_ROOT, Settings


def test_env_example_documents_every_setting() -> None:
    assert documented_settings(PROJECT_ROOT / ".env.example") == {name.upper() for name in Settings.model_fields}
