"""The one place Directmail's settings are read: the environment first, then `.env`.

The settings every service with a database has come from `servicekit.DatabaseSettings`; Directmail adds
its own here.
Every setting is documented in `.env.example`; `tests/test_config.py` keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit import DatabaseSettings

PROJECT_ROOT = Path(__file__).resolve().parent


class Settings(DatabaseSettings):
    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env")

    service_name: ClassVar[str] = "directmail"
    service_root: ClassVar[Path] = PROJECT_ROOT

    # Each download holds one of Flask's WORKER_THREADS and a database connection until its last byte.
    export_concurrency: int = Field(4, ge=1, le=63)
    # A client that reads nothing for this long is cut, so that it cannot hold a slot, a thread and a query.
    download_idle_seconds: float = Field(30, gt=0, le=3600)
    # Each of a download's statements (one a community) may run this long, longer than other statements.
    download_statement_timeout_seconds: float = Field(300, gt=0, le=3600)

    @model_validator(mode="after")
    def _threads_left_for_the_rest(self) -> Settings:
        if self.export_concurrency >= self.worker_threads:
            raise ValueError(
                f"EXPORT_CONCURRENCY: must be below WORKER_THREADS ({self.worker_threads}),"
                " so that the other endpoints still get a thread while every download runs"
            )
        return self
