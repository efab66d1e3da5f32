"""The service's settings: the kit's (see servicekit's README), plus the service's own."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from servicekit import ServiceSettings

PROJECT_ROOT = Path(__file__).resolve().parent


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env")

    service_name: ClassVar[str] = "hello"
    service_root: ClassVar[Path] = PROJECT_ROOT
