"""The settings every service has. A service subclasses `ServiceSettings` (or `DatabaseSettings`, when it
has a database), names itself and adds its own:

    class Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_file=ROOT / ".env")
        service_name: ClassVar[str] = "hello"
        service_root: ClassVar[Path] = ROOT

    settings = load_settings(Settings)

Values come from the environment first, then the `.env` file; every one is validated at start-up and
a bad one is reported in one line naming it.
"""

from __future__ import annotations

import os
import re
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from servicekit.compression import CompressionLevels
from servicekit.excerpts import excerpt

__all__ = ["DatabaseSettings", "DownloadSettings", "ServiceSettings", "SettingsError", "load_settings"]

# Values that mark a secret nobody has filled in yet; refused outside local and test.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "changethis", "password", "secret", "placeholder"})
DEVELOPMENT_ENVIRONMENTS = ("local", "test")
# --- A deployment's own values, never an example's: refused outside local and test ---
# A value in angle brackets marks one a deployer must fill in (`AUTH_TENANT_ID=<the tenant's id>`), as
# deploy/'s overlays and an Entra registration's dry run give them.
FILL_IN = re.compile(r"<[^<>]*>")
# The nil UUID and its look-alikes (one hex digit throughout) stand in for ids in examples and docs.
EXAMPLE_GUID = re.compile(r"([0-9a-f])\1{7}-\1{4}-\1{4}-\1{4}-\1{12}", re.IGNORECASE)
# Names reserved for examples (RFC 2606), as an App ID URI's host.
EXAMPLE_DOMAINS = ("example", "example.com", "example.net", "example.org", "invalid", "test")
# What names this deployment to Entra ID: an example here would trust, or ask for, someone else's tokens.
IDENTITY_SETTINGS = ("auth_tenant_id", "auth_client_id", "swagger_ui_client_id")

Environment = Literal["local", "test", "staging", "production"]
AnySettings = TypeVar("AnySettings", bound="ServiceSettings")


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line naming it."""


class ServiceSettings(BaseSettings):
    """The kit's settings, read from the environment (and `.env`) and checked at start-up; a service
    extends it, naming itself in `service_name` and its folder in `service_root`."""

    # An empty variable (`DATABASE_URL=`, as compose and Kubernetes pass an unset one) means unset.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_ignore_empty=True)

    service_name: ClassVar[str]  # in logs, traces, the dev login's issuer and the database's application_name
    service_root: ClassVar[Path]  # the service's checkout: its var/ folder holds local-only files

    # A deployment that forgets ENVIRONMENT gets the strictest checks; `make run` and tests name theirs.
    environment: Environment = "production"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # What only this machine holds (the dev login's key); unset: the service's var/ folder.
    local_files_dir: Path | None = None

    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # Fast levels: a download compresses as the database answers, and must keep up with it (a service's
    # make bench measures each beside the database's own rate). COMPRESSION_QUALITY is brotli's.
    compression_quality: int = Field(3, ge=0, le=11)
    compression_zstd_level: int = Field(3, ge=1, le=19)
    compression_gzip_level: int = Field(4, ge=1, le=9)
    hsts_max_age_seconds: int = Field(0, ge=0)
    # Flask's worker threads: each request to a view holds one, and a download holds one to its last byte.
    worker_threads: int = Field(10, ge=2, le=64)
    max_url_bytes: int = Field(8192, ge=256)
    max_body_bytes: int = Field(1_048_576, ge=0)
    # The request head, enforced by the HTTP server as it arrives (servicekit/http_limits.py): the header
    # lines' bytes (names, values, ": " and CRLF), how many, and how long the whole head may take.
    max_header_bytes: int = Field(16_384, ge=1024)
    max_headers: int = Field(100, ge=10)
    request_head_timeout_seconds: float = Field(10.0, gt=0, le=300)

    shutdown_drain_seconds: float = Field(0.0, ge=0, le=120)
    shutdown_timeout_seconds: int = Field(30, ge=1, le=3600)

    auth_tenant_id: str = ""
    auth_audience: Annotated[tuple[str, ...], NoDecode] = ()
    auth_issuer: str = ""
    auth_jwks_url: str = ""
    auth_allow_v1_tokens: bool = False
    auth_client_id: str = ""
    auth_client_secret: SecretStr | None = None
    swagger_ui_client_id: str = ""

    elastic_apm_server_url: str = ""
    elastic_apm_secret_token: SecretStr | None = None
    elastic_apm_api_key: SecretStr | None = None

    # Set by Kubernetes in every pod, never by hand: ENVIRONMENT local and test are refused there.
    kubernetes_service_host: str = ""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return tuple(origin.rstrip("/") for origin in _split_commas(value)) if isinstance(value, str) else value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_named(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        # A wildcard would let any web page read personal data with a staff member's token.
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query:
                raise ValueError(f"{excerpt(origin)} is not an origin (https://host[:port]); no wildcard")
        return origins

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for proxy in _split_commas(value):
            if proxy != "*":
                try:
                    ip_network(proxy, strict=False)
                except ValueError:
                    raise ValueError(f"{excerpt(proxy)} is not an IP address or CIDR") from None
        return value

    @field_validator("auth_issuer", "auth_jwks_url", "elastic_apm_server_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in {"http", "https"} or not parts.hostname):
            raise ValueError(f"{excerpt(value)} is not an http(s) URL")
        return value

    @field_validator("local_files_dir")
    @classmethod
    def _a_folder_to_write_in(cls, folder: Path | None) -> Path | None:
        # Made now, so that a path that cannot be one is a bad setting, not a traceback when the dev
        # login first writes its key there.
        if folder is None:
            return None
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"{str(folder)!r} cannot be a folder: {exc.strerror}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"{str(folder)!r} is a folder this user cannot write in")
        return folder

    @field_validator("auth_audience", mode="before")
    @classmethod
    def _split_audiences(cls, value: object) -> object:
        return tuple(_split_commas(value)) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _audience_with_issuer(self) -> ServiceSettings:
        if self.trusts_an_issuer and not self.auth_audience:
            raise ValueError("AUTH_AUDIENCE: must name this API when a token issuer is configured")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_deployments(self) -> ServiceSettings:
        if self.is_development:
            return self
        if not self.trusts_an_issuer:
            raise ValueError("AUTH_TENANT_ID: must be set outside local and test (or AUTH_ISSUER and AUTH_JWKS_URL)")
        for name in ("auth_client_secret", "elastic_apm_secret_token", "elastic_apm_api_key"):
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name.upper()}: is a placeholder outside local and test")
        return self

    @model_validator(mode="before")
    @classmethod
    def _refuse_values_left_to_fill_in(cls, values: object) -> object:
        # Before the fields' own checks, so that `CORS_ORIGINS=<...>` says what it is too.
        if not isinstance(values, dict) or values.get("environment") in DEVELOPMENT_ENVIRONMENTS:
            return values
        for name, value in values.items():
            # Whole values only: a secret may hold angle brackets. Unquoted, for the same reason.
            if isinstance(value, str) and FILL_IN.fullmatch(value.strip()):
                raise ValueError(f"{name.upper()}: is left to fill in (<...>); set this deployment's own value")
        return values

    @model_validator(mode="after")
    def _refuse_example_identities(self) -> ServiceSettings:
        if self.is_development:
            return self
        named = [(name.upper(), getattr(self, name)) for name in IDENTITY_SETTINGS]
        for name, value in [*named, *(("AUTH_AUDIENCE", audience) for audience in self.auth_audience)]:
            if EXAMPLE_GUID.search(value) or FILL_IN.search(value) or _names_an_example_domain(value):
                raise ValueError(
                    f"{name}: {excerpt(value)} is an example or a placeholder outside local and test;"
                    " set this deployment's own"
                )
        return self

    @model_validator(mode="after")
    def _refuse_development_in_a_cluster(self) -> ServiceSettings:
        if self.is_development and self.kubernetes_service_host:
            raise ValueError(
                f"ENVIRONMENT: {self.environment} is for a developer's machine and tests, not a Kubernetes pod"
                " (KUBERNETES_SERVICE_HOST is set): use staging or production"
            )
        return self

    @classmethod
    def local_files(cls) -> Path:
        """The folder for what only a developer's machine holds (the embedded database, the dev login's key)."""
        return cls.service_root / "var"

    @property
    def compression_levels(self) -> CompressionLevels:
        return CompressionLevels(
            zstd=self.compression_zstd_level, brotli=self.compression_quality, gzip=self.compression_gzip_level
        )

    @property
    def is_development(self) -> bool:
        return self.environment in DEVELOPMENT_ENVIRONMENTS

    @property
    def logs_as_json(self) -> bool:
        return self.environment != "local"

    @property
    def trusts_an_issuer(self) -> bool:
        """An Entra tenant, or any issuer whose keys are named explicitly."""
        return bool(self.auth_tenant_id or (self.auth_issuer and self.auth_jwks_url))

    @property
    def entra_issuers(self) -> tuple[str, ...]:
        """The `iss` values accepted: v2 unless AUTH_ISSUER says otherwise, v1 only when allowed."""
        v2 = self.auth_issuer or f"https://login.microsoftonline.com/{self.auth_tenant_id}/v2.0"
        if self.auth_allow_v1_tokens and self.auth_tenant_id:
            return (v2, f"https://sts.windows.net/{self.auth_tenant_id}/")
        return (v2,)

    @property
    def entra_jwks_url(self) -> str:
        return self.auth_jwks_url or f"https://login.microsoftonline.com/{self.auth_tenant_id}/discovery/v2.0/keys"

    @property
    def api_scope_prefix(self) -> str:
        """What Entra puts before a delegated scope's name: the API's App ID URI (`api://...`)."""
        uris = [audience for audience in self.auth_audience if "://" in audience]
        if uris:
            return uris[0]
        return f"api://{self.auth_audience[0]}" if self.auth_audience else f"api://{self.service_name}"


class DatabaseSettings(ServiceSettings):
    """The settings of a service with a database."""

    # Empty means the embedded SQLite database, in local and test only; it may hold a password.
    database_url: str = Field("", repr=False, validate_default=True)
    # A streaming replica of DATABASE_URL's database, for reads only (downloads and what a service's views
    # choose to read there); empty: everything reads the primary. Migrations and writes never go here.
    database_read_url: str = Field("", repr=False)
    database_timeout_seconds: float = Field(2.0, gt=0, le=30)
    # Every statement and lock wait ends by itself; downloads set their own, longer statement limit.
    database_statement_timeout_seconds: float = Field(15.0, gt=0, le=3600)
    database_lock_timeout_seconds: float = Field(5.0, gt=0, le=3600)
    # Command-line work (`migrate`, a service's own commands) may take far longer than a request.
    command_statement_timeout_seconds: float = Field(3600.0, gt=0, le=86400)
    # A migration's statement that waits this long for a lock gives up, rather than queue every new reader
    # of its table behind it; the migration is rolled back and tried again, MIGRATION_ATTEMPTS times in all.
    migration_lock_timeout_seconds: float = Field(3.0, gt=0, le=60)
    migration_attempts: int = Field(5, ge=1, le=10)
    # How long the audit_events table keeps an event (servicekit.audit_store): the service deletes older
    # ones at start and daily. At least a month: an auditor must be able to look back.
    audit_retention_days: int = Field(400, ge=31, le=3650)

    @field_validator("database_url")
    @classmethod
    def _embedded_or_psycopg3(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if info.data.get("environment") not in DEVELOPMENT_ENVIRONMENTS:
                raise ValueError("must be set outside local and test")
            return f"sqlite:///{cls.local_files() / f'{cls.service_name}.sqlite3'}"
        return _psycopg_url(value, "sqlite")

    @field_validator("database_read_url")
    @classmethod
    def _replica_is_postgresql(cls, value: str) -> str:
        return _psycopg_url(value) if value else value

    @model_validator(mode="after")
    def _refuse_a_placeholder_password(self) -> DatabaseSettings:
        for name in ("database_url", "database_read_url"):
            password = make_url(getattr(self, name)).password if getattr(self, name) else None
            if not self.is_development and password is not None and password.lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name.upper()}: carries a placeholder password outside local and test")
        return self

    @model_validator(mode="after")
    def _replica_of_postgresql(self) -> DatabaseSettings:
        if self.database_read_url and make_url(self.database_url).get_backend_name() != "postgresql":
            raise ValueError("DATABASE_READ_URL: a read replica needs DATABASE_URL to be PostgreSQL too")
        return self


class DownloadSettings(ServiceSettings):
    """The settings of a service that streams downloads (`Downloads.from_settings`), mixed in beside
    `DatabaseSettings`: `class Settings(DownloadSettings, DatabaseSettings)`."""

    # Each download holds one of Flask's WORKER_THREADS and a database connection until its last byte;
    # past this many at once, 503 with Retry-After.
    export_concurrency: int = Field(4, ge=1, le=63)
    # How many of those one caller may hold at once (at most EXPORT_CONCURRENCY count), so that one caller
    # asking again as each ends cannot hold every slot.
    export_concurrency_per_caller: int = Field(2, ge=1, le=63)
    # A client that makes no progress (acknowledges no byte) for this long is cut, so that it cannot hold a
    # slot, a thread and a query; one reading slowly but steadily is not.
    download_idle_seconds: float = Field(30, gt=0, le=3600)
    # Each of a download's statements may run this long, longer than other statements.
    download_statement_timeout_seconds: float = Field(300, gt=0, le=3600)
    # How many database backends one download may run its statements on: 2 lets a download made of many
    # statements (`copied_csv` over several parameter sets) use two of the database's cores, on one snapshot,
    # for a second pool of EXPORT_CONCURRENCY connections.
    download_backends: int = Field(2, ge=1, le=2)

    @model_validator(mode="after")
    def _threads_left_for_the_rest(self) -> DownloadSettings:
        if self.export_concurrency >= self.worker_threads:
            raise ValueError(
                f"EXPORT_CONCURRENCY: must be below WORKER_THREADS ({self.worker_threads}),"
                " so that the other endpoints still get a thread while every download runs"
            )
        return self


def _psycopg_url(value: str, *also: str) -> str:
    """`value` as SQLAlchemy's psycopg 3 URL; `also` names the other drivers allowed (sqlite)."""
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise ValueError("is not a database URL (postgresql://user:password@host/name)") from None
    if url.drivername in {"postgres", "postgresql"}:
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername not in {"postgresql+psycopg", *also}:
        raise ValueError(
            " or ".join(["must be a postgresql:// (psycopg 3)", *(f"{name}://" for name in also)]) + " URL"
        )
    return url.render_as_string(hide_password=False)


def _names_an_example_domain(value: str) -> bool:
    host = (urlsplit(value).hostname if "://" in value else None) or ""
    return any(host == domain or host.endswith(f".{domain}") for domain in EXAMPLE_DOMAINS)


def _split_commas(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def load_settings(settings_class: type[AnySettings], **overrides: object) -> AnySettings:
    """Settings from the environment and `.env`, with `overrides` on top (tests use them).

    SERVICEKIT_ENV_FILE, when set, names the env file to read instead of the service's `.env`; set but
    empty, none is read (the kit's pytest plugin sets it so, for the test process and its children)."""
    env_file = os.environ.get("SERVICEKIT_ENV_FILE")
    if env_file is not None and "_env_file" not in overrides:
        overrides["_env_file"] = env_file or None
    try:
        return settings_class(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    setting = "_".join(str(part) for part in error["loc"]).upper()
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{setting}: {message}" if setting else message
