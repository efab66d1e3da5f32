"""Settings: the environment, then `.env`, validated at start-up into one-line errors, failing closed."""

from __future__ import annotations

import functools

import pytest

from servicekit.auth.dev_login import dev_key_path
from servicekit.database import Limits, connect_arguments
from servicekit.settings import SettingsError
from servicekit.settings import load_settings as load_any_settings
from tests.fixture_service import FixtureSettings

PRODUCTION_DB = "postgresql://svc:s3cure-Pa55@db.internal/svc"
PRODUCTION_AUTH = {"auth_tenant_id": "tenant-guid", "auth_audience": "api://fixture-service"}

load_settings = functools.partial(load_any_settings, FixtureSettings)
local_settings = functools.partial(load_settings, environment="local")


def test_a_forgotten_environment_is_the_strictest_and_has_no_embedded_database() -> None:
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: must be set outside local and test$"):
        load_settings(_env_file=None)
    settings = load_settings(_env_file=None, database_url=PRODUCTION_DB, **PRODUCTION_AUTH)
    assert settings.environment == "production"
    assert not settings.is_development


def test_a_forgotten_environment_still_refuses_placeholder_secrets() -> None:
    with pytest.raises(SettingsError, match="placeholder"):
        load_settings(_env_file=None, database_url="postgresql://svc:changeme@db/svc", **PRODUCTION_AUTH)


def test_local_serves_on_the_embedded_database() -> None:
    settings = load_settings(_env_file=None, environment="local")
    assert settings.port == 8080
    assert settings.database_url == f"sqlite:///{FixtureSettings.service_root / 'var' / 'fixture-service.sqlite3'}"
    assert settings.api_scope_prefix == "api://fixture-service"


def test_a_services_own_settings_are_validated_alike() -> None:
    with pytest.raises(SettingsError, match="EXPORT_CONCURRENCY: Input should be less than or equal to 9"):
        local_settings(_env_file=None, export_concurrency=10)


def test_downloads_always_leave_flask_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match=r"^EXPORT_CONCURRENCY: must be below WORKER_THREADS \(3\)"):
        local_settings(_env_file=None, export_concurrency=3, worker_threads=3)
    monkeypatch.setenv("EXPORT_CONCURRENCY_PER_CALLER", "3")
    monkeypatch.setenv("DOWNLOAD_STATEMENT_TIMEOUT_SECONDS", "600")
    settings = local_settings(_env_file=None, export_concurrency=3, worker_threads=4)
    assert (settings.export_concurrency_per_caller, settings.download_statement_timeout_seconds) == (3, 600)
    assert settings.download_idle_seconds == 30


def test_an_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("PORT", "")
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: must be set outside local and test$"):
        load_settings(_env_file=None, **PRODUCTION_AUTH)
    monkeypatch.setenv("ENVIRONMENT", "local")
    assert load_settings(_env_file=None).port == 8080


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9090")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example/")
    settings = local_settings(_env_file=None)
    assert settings.port == 9090
    assert settings.cors_origins == ("https://a.example", "https://b.example")


def test_dotenv_is_read_after_the_environment(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=7000\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("PORT", "7100")
    settings = local_settings(_env_file=env_file)
    assert settings.port == 7100
    assert settings.log_level == "DEBUG"


def test_servicekit_env_file_names_the_file_read_instead_of_dotenv(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "other.env"
    env_file.write_text("PORT=7000\n")
    monkeypatch.setenv("SERVICEKIT_ENV_FILE", str(env_file))
    assert local_settings().port == 7000
    monkeypatch.setenv("SERVICEKIT_ENV_FILE", "")  # set but empty: no file at all
    assert local_settings().port == 8080
    assert local_settings(_env_file=env_file).port == 7000  # an explicit file still wins


def test_local_files_go_to_var_unless_local_files_dir_says_otherwise(tmp_path) -> None:
    default = local_settings(_env_file=None, local_files_dir=None)  # as when LOCAL_FILES_DIR is unset
    assert dev_key_path(default).parent == FixtureSettings.service_root / "var"
    assert dev_key_path(local_settings(_env_file=None, local_files_dir=str(tmp_path))).parent == tmp_path


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"environment": "prod"}, "ENVIRONMENT: Input should be 'local', 'test', 'staging' or 'production'"),
        ({"port": "eighty"}, "PORT: Input should be a valid integer"),
        ({"compression_quality": 12}, "COMPRESSION_QUALITY: Input should be less than or equal to 11"),
        ({"database_url": "mysql://x@y/z"}, "DATABASE_URL: must be a postgresql:// (psycopg 3) or sqlite:// URL"),
        (
            {"database_url": "db.internal:5432"},
            "DATABASE_URL: is not a database URL (postgresql://user:password@host/name)",
        ),
        ({"database_url": "postgresql://u@db:5432x/d"}, "DATABASE_URL: is not a database URL"),
        ({"database_read_url": "sqlite:///replica.db"}, "DATABASE_READ_URL: must be a postgresql:// (psycopg 3) URL"),
        (
            {"database_read_url": "postgresql://u@replica/d"},
            "DATABASE_READ_URL: a read replica needs DATABASE_URL to be PostgreSQL too",
        ),
        ({"cors_origins": "*"}, "CORS_ORIGINS: '*' is not an origin (https://host[:port]); no wildcard"),
        ({"cors_origins": "https://a.example/app"}, "CORS_ORIGINS: 'https://a.example/app' is not an origin"),
        ({"forwarded_allow_ips": "10.0.0.0/8, proxy"}, "FORWARDED_ALLOW_IPS: 'proxy' is not an IP address or CIDR"),
        ({"auth_jwks_url": "keys.example/jwks"}, "AUTH_JWKS_URL: 'keys.example/jwks' is not an http(s) URL"),
        ({"elastic_apm_server_url": "apm:8200"}, "ELASTIC_APM_SERVER_URL: 'apm:8200' is not an http(s) URL"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        local_settings(_env_file=None, **overrides)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_postgres_urls_use_psycopg_3() -> None:
    settings = local_settings(
        _env_file=None, database_url="postgres://u:p@h:5432/d", database_read_url="postgresql://u:p@replica:5432/d"
    )
    assert settings.database_url == "postgresql+psycopg://u:p@h:5432/d"
    assert settings.database_read_url == "postgresql+psycopg://u:p@replica:5432/d"


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_deployments_must_name_their_database(environment: str) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL: must be set outside local and test"):
        load_settings(_env_file=None, environment=environment, **PRODUCTION_AUTH)


@pytest.mark.parametrize("password", ["changeme", "CHANGEME", "Password", "placeholder"])
def test_deployments_refuse_placeholder_passwords(password: str) -> None:
    url = f"postgresql://svc:{password}@db.internal/svc"
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: carries a placeholder password"):
        load_settings(_env_file=None, environment="production", database_url=url, **PRODUCTION_AUTH)
    real = "postgresql://svc:s3cret-from-vault@db.internal/svc"
    with pytest.raises(SettingsError, match=r"^DATABASE_READ_URL: carries a placeholder password"):
        load_settings(
            _env_file=None, environment="production", database_url=real, database_read_url=url, **PRODUCTION_AUTH
        )


def test_deployments_must_name_their_token_issuer() -> None:
    with pytest.raises(
        SettingsError,
        match=r"^AUTH_TENANT_ID: must be set outside local and test \(or AUTH_ISSUER and AUTH_JWKS_URL\)$",
    ):
        load_settings(_env_file=None, environment="staging", database_url=PRODUCTION_DB)


def test_deployments_refuse_a_placeholder_client_secret() -> None:
    with pytest.raises(SettingsError, match=r"^AUTH_CLIENT_SECRET: is a placeholder outside local and test$"):
        load_settings(
            _env_file=None,
            environment="production",
            database_url=PRODUCTION_DB,
            auth_client_secret="changeme",
            **PRODUCTION_AUTH,
        )


@pytest.mark.parametrize(
    ("setting", "example"),
    [
        ("auth_tenant_id", "00000000-0000-0000-0000-000000000000"),
        ("auth_audience", "33333333-3333-3333-3333-333333333333"),
        ("auth_audience", "api://fixture-service, api://33333333-3333-3333-3333-333333333333"),
        ("auth_audience", "api://orders.example.com"),
        ("swagger_ui_client_id", "44444444-4444-4444-4444-444444444444"),
        ("auth_client_id", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"),
        ("auth_audience", "<api-client-id>,api://<api-client-id>"),  # an Entra registration's dry run
    ],
)
@pytest.mark.parametrize("environment", ["staging", "production"])
def test_deployments_refuse_the_docs_example_ids_and_audiences(environment: str, setting: str, example: str) -> None:
    values = PRODUCTION_AUTH | {setting: example}
    with pytest.raises(
        SettingsError, match=rf"^{setting.upper()}: .* is an example or a placeholder outside local and test"
    ):
        load_settings(_env_file=None, environment=environment, database_url=PRODUCTION_DB, **values)
    assert local_settings(_env_file=None, **values).environment == "local"


@pytest.mark.parametrize(
    ("setting", "value"), [("auth_tenant_id", "<the tenant's id>"), ("cors_origins", " <https://the portal> ")]
)
def test_deployments_refuse_a_value_left_to_fill_in(setting: str, value: str) -> None:
    values = PRODUCTION_AUTH | {setting: value}
    with pytest.raises(SettingsError, match=rf"^{setting.upper()}: is left to fill in"):
        load_settings(_env_file=None, environment="production", database_url=PRODUCTION_DB, **values)


@pytest.mark.parametrize("environment", ["local", "test"])
def test_a_kubernetes_pod_refuses_local_and_test(monkeypatch: pytest.MonkeyPatch, environment: str) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.100.0.1")  # as Kubernetes sets it in every pod
    with pytest.raises(
        SettingsError,
        match=rf"^ENVIRONMENT: {environment} is for a developer's machine and tests, not a Kubernetes pod",
    ):
        load_settings(_env_file=None, environment=environment)
    deployed = load_settings(_env_file=None, environment="staging", database_url=PRODUCTION_DB, **PRODUCTION_AUTH)
    assert deployed.environment == "staging"


def test_issuers_and_keys_derive_from_the_tenant() -> None:
    settings = local_settings(_env_file=None, auth_tenant_id="t1", auth_audience="abc-guid, api://svc")
    assert settings.auth_audience == ("abc-guid", "api://svc")
    assert settings.entra_issuers == ("https://login.microsoftonline.com/t1/v2.0",)
    assert settings.entra_jwks_url == "https://login.microsoftonline.com/t1/discovery/v2.0/keys"
    assert settings.api_scope_prefix == "api://svc"
    v1 = local_settings(_env_file=None, auth_tenant_id="t1", auth_audience="abc-guid", auth_allow_v1_tokens="true")
    assert v1.entra_issuers == ("https://login.microsoftonline.com/t1/v2.0", "https://sts.windows.net/t1/")


def test_secrets_do_not_show_in_settings_reprs() -> None:
    settings = local_settings(
        _env_file=None,
        auth_client_secret="real-secret-value",
        elastic_apm_secret_token="apm-token-value",
        database_url="postgresql://svc:db-password-value@db/svc",
    )
    for secret in ("real-secret-value", "apm-token-value", "db-password-value"):
        assert secret not in repr(settings)
        assert secret not in str(settings)


def test_local_accepts_placeholders_and_production_a_real_password() -> None:
    load_settings(_env_file=None, environment="local", database_url="postgresql://u:changeme@localhost/d")
    production = load_settings(_env_file=None, environment="production", database_url=PRODUCTION_DB, **PRODUCTION_AUTH)
    assert production.logs_as_json


def test_an_issuer_without_an_audience_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"^AUTH_AUDIENCE: must name this API"):
        local_settings(_env_file=None, auth_tenant_id="t1")


def test_local_files_dir_must_be_a_folder_this_user_can_write_in(tmp_path) -> None:
    """Made when the settings are read, so that a bad one is one line, not the dev login's traceback."""
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for folder, why in ((a_file, "File exists"), (a_file / "below", "Not a directory")):
        with pytest.raises(SettingsError) as error:
            local_settings(_env_file=None, local_files_dir=str(folder))
        assert str(error.value) == f"LOCAL_FILES_DIR: {str(folder)!r} cannot be a folder: {why}"
    made = tmp_path / "made" / "for-the-service"
    assert local_settings(_env_file=None, local_files_dir=str(made)).local_files_dir == made
    assert made.is_dir()


@pytest.mark.parametrize(
    ("statement_seconds", "lock_seconds", "options"),
    [
        (0.0004, 0.0000001, "-c statement_timeout=1 -c lock_timeout=1"),
        (0.0012, 2.007, "-c statement_timeout=2 -c lock_timeout=2007"),
        (15, 5, "-c statement_timeout=15000 -c lock_timeout=5000"),
    ],
)
def test_database_timeouts_are_rounded_up_to_whole_milliseconds_never_to_none(
    statement_seconds: float, lock_seconds: float, options: str
) -> None:
    """PostgreSQL takes whole milliseconds, and reads 0 as no limit at all. (What libpq is given: a server
    made to run statements under a 1 ms limit cancels the driver's own first queries on a busy machine.)"""
    limits = Limits(connect_seconds=2, statement_seconds=statement_seconds, lock_seconds=lock_seconds)
    assert connect_arguments(PRODUCTION_DB, limits, "fixture-service")["options"] == options
