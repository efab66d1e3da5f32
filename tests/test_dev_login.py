"""Local dev login: trusted with ENVIRONMENT=local, and nowhere else."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url

from app.auth.dev_login import DEV_KEY_PATH, mint_dev_token
from config import Settings
from tests.conftest import build_app, settings_for_tests, trusting
from tests.fake_entra import API_CLIENT_ID, FakeEntra
from tests.test_cli import run_cli

PRODUCTION_AUTH = {"auth_tenant_id": "72f988bf-0000-4000-8000-0000000000aa", "auth_audience": API_CLIENT_ID}


def local_settings(database_url: str) -> Settings:
    return settings_for_tests(database_url, environment="local")


def cli_token(*args: str) -> str:
    result = run_cli("token", *args, ENVIRONMENT="local")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_cli_token_logs_in_locally(database_url: str) -> None:
    token = cli_token("--role", "Directmail.Read", "--expires-in", "3600")
    with build_app(local_settings(database_url)).test_client() as client:
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["roles"] == ["Directmail.Read"]
    assert response.json()["name"] == "Local Developer"


def test_role_less_and_expired_cli_tokens_are_refused_locally(database_url: str) -> None:
    role_less, expired = cli_token("--no-roles"), cli_token("--expired")
    with build_app(local_settings(database_url)).test_client() as client:
        assert client.get("/me", headers={"Authorization": f"Bearer {role_less}"}).status_code == 403
        response = client.get("/me", headers={"Authorization": f"Bearer {expired}"})
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]


def test_the_dev_key_stays_private() -> None:
    cli_token()
    assert DEV_KEY_PATH.stat().st_mode & 0o077 == 0
    assert "var/" in (DEV_KEY_PATH.parents[1] / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("environment", ["test", "staging", "production"])
def test_dev_tokens_are_refused_outside_local(database_url: str, fake_entra: FakeEntra, environment: str) -> None:
    token = mint_dev_token(local_settings(database_url), roles=["Directmail.Read"], expires_in=3600)
    with_password = make_url(database_url).set(password="s3cure-Pa55").render_as_string(hide_password=False)
    settings = settings_for_tests(with_password, environment=environment, **trusting(fake_entra))
    with build_app(settings).test_client() as client:
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "Invalid issuer 'urn:directmail:local-dev-login'" in response.json()["detail"]


@pytest.mark.parametrize("environment", ["test", "production"])
def test_no_dev_tokens_are_minted_outside_local(environment: str) -> None:
    result = run_cli(
        "token",
        ENVIRONMENT=environment,
        DATABASE_URL="postgresql://directmail:s3cure-Pa55@127.0.0.1:5432/directmail",
        **{name.upper(): value for name, value in PRODUCTION_AUTH.items()},
    )
    assert result.returncode == 2
    assert "dev tokens exist only when ENVIRONMENT=local" in result.stderr
