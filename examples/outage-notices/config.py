"""The service's settings: the kit's (servicekit's README lists them), plus the status page it publishes to."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from servicekit import DatabaseSettings
from servicekit.settings import DownloadSettings

PROJECT_ROOT = Path(__file__).resolve().parent


class Settings(DownloadSettings, DatabaseSettings):
    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env")

    service_name: ClassVar[str] = "outages"
    service_root: ClassVar[Path] = PROJECT_ROOT

    status_page_url: str = ""
    status_page_scope: str = "api://status-page/.default"
