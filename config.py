"""The one place Directmail's settings are read: the environment first, then `.env`.

The settings every service with a database has come from `servicekit.DatabaseSettings`; Directmail adds
its own here.
Every setting is documented in `.env.example`; `tests/test_config.py` keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit import DatabaseSettings

PROJECT_ROOT = Path(__file__).resolve().parent


class Settings(DatabaseSettings):
    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env")

    service_name: ClassVar[str] = "directmail"
    service_root: ClassVar[Path] = PROJECT_ROOT

    # Each download holds one of Flask's 10 threads and a database connection until its last byte.
    export_concurrency: int = Field(4, ge=1, le=9)
    # A client that reads nothing for this long is cut, so that it cannot hold a slot, a thread and a query.
    download_idle_seconds: float = Field(30, gt=0, le=3600)
    # Longer than other statements get: the whole list is one COPY, sorted before its first row.
    download_statement_timeout_seconds: float = Field(300, gt=0, le=3600)
