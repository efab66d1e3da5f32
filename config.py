"""The one place the service's settings are read: the environment first, then `.env`.

Every setting is documented in `.env.example`; `tests/test_config.py` keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parent
SERVICE_NAME = "directmail"
EMBEDDED_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'directmail.sqlite3'}"

# Values that mark a secret nobody has filled in yet; refused outside local and test.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "changethis", "password", "secret", "placeholder"})

Environment = Literal["local", "test", "staging", "production"]


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env", extra="ignore", frozen=True)

    environment: Environment = "local"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    database_url: str = EMBEDDED_DATABASE_URL
    database_timeout_seconds: float = Field(2.0, gt=0, le=30)

    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    compression_quality: int = Field(4, ge=0, le=11)
    hsts_max_age_seconds: int = Field(0, ge=0)
    max_url_bytes: int = Field(8192, ge=256)
    max_body_bytes: int = Field(1_048_576, ge=0)

    shutdown_drain_seconds: float = Field(0.0, ge=0, le=120)
    shutdown_timeout_seconds: float = Field(30.0, gt=0, le=3600)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, value: str) -> str:
        url = make_url(value)
        if url.drivername in {"postgres", "postgresql"}:
            url = url.set(drivername="postgresql+psycopg")
        if url.drivername not in {"postgresql+psycopg", "sqlite"}:
            raise ValueError("must be a postgresql:// (psycopg 3) or sqlite:// URL")
        return url.render_as_string(hide_password=False)

    @model_validator(mode="after")
    def _refuse_unsafe_deployments(self) -> Settings:
        if self.is_development:
            return self
        if "database_url" not in self.model_fields_set:
            raise ValueError("DATABASE_URL must be set outside local and test")
        if make_url(self.database_url).password in PLACEHOLDER_SECRETS:
            raise ValueError("DATABASE_URL carries a placeholder password outside local and test")
        return self

    @property
    def is_development(self) -> bool:
        return self.environment in ("local", "test")

    @property
    def logs_as_json(self) -> bool:
        return self.environment != "local"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`, with `overrides` on top (tests use them)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    setting = "_".join(str(part) for part in error["loc"]).upper()
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{setting}: {message}" if setting else message
