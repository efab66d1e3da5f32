"""Directmail's dev login as developers use it: `python run.py token`, trusted with ENVIRONMENT=local only."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app import create_app
from config import Settings
from servicekit import ServiceApp
from servicekit.auth.dev_login import dev_key_path
from servicekit.testing import API_CLIENT_ID, FakeEntra, settings_for_tests
from tests.test_cli import run_cli

PRODUCTION_AUTH = {"AUTH_TENANT_ID": "72f988bf-0000-4000-8000-0000000000aa", "AUTH_AUDIENCE": API_CLIENT_ID}


def cli_token(*args: str) -> str:
    result = run_cli("token", *args, ENVIRONMENT="local")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def local_app(database_url: str) -> ServiceApp:
    """Directmail as `make run` serves it: local, trusting its dev login and no tenant."""
    return create_app(settings_for_tests(Settings, database_url=database_url, environment="local"))


def test_a_cli_token_logs_in_locally(local_app: ServiceApp) -> None:
    token = cli_token()  # by default it grants every permission the spec declares: Directmail.Read
    with local_app.test_client() as client:
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["roles"] == ["Directmail.Read"]
    assert response.json()["name"] == "Local Developer"


def test_role_less_and_expired_cli_tokens_are_refused_locally(local_app: ServiceApp) -> None:
    role_less, expired = cli_token("--no-roles"), cli_token("--expired")
    with local_app.test_client() as client:
        assert client.get("/me", headers={"Authorization": f"Bearer {role_less}"}).status_code == 403
        response = client.get("/me", headers={"Authorization": f"Bearer {expired}"})
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]


def test_the_dev_key_stays_in_the_folder_git_ignores() -> None:
    default = dev_key_path(settings_for_tests(Settings, environment="local", local_files_dir=None))
    assert default.parent == Settings.service_root / "var"
    assert "var/" in (Settings.service_root / ".gitignore").read_text().splitlines()


def test_a_test_run_s_dev_key_stays_out_of_the_checkout() -> None:
    """The plugin points LOCAL_FILES_DIR, for the run and the processes it starts, at a folder of its own."""

    def var_status() -> str:
        command = ["git", "status", "--porcelain", "--ignored", "--untracked-files=all", "var"]
        return subprocess.run(command, cwd=Settings.service_root, capture_output=True, text=True, check=True).stdout

    def checkout_key() -> int | None:
        path = Settings.service_root / "var" / "dev-signing-key.pem"  # a developer's own, if any
        return path.stat().st_mtime_ns if path.exists() else None

    key_before, status_before = checkout_key(), var_status()
    cli_token()
    key = dev_key_path(settings_for_tests(Settings, environment="local"))
    assert key.exists()
    assert key.parent == Path(os.environ["LOCAL_FILES_DIR"])
    assert not key.is_relative_to(Settings.service_root)
    assert (checkout_key(), var_status()) == (key_before, status_before)


def test_no_dev_tokens_are_minted_outside_local() -> None:
    result = run_cli(
        "token",
        ENVIRONMENT="production",
        DATABASE_URL="postgresql://directmail:s3cure-Pa55@127.0.0.1:5432/directmail",
        **PRODUCTION_AUTH,
    )
    assert result.returncode == 2
    assert "dev tokens exist only when ENVIRONMENT=local" in result.stderr


def test_locally_swagger_ui_signs_in_with_a_button_and_the_token_reads_mailing_lists(local_app: ServiceApp) -> None:
    with local_app.test_client() as client:
        signed_in = client.post("/ui/local-sign-in")
        assert signed_in.status_code == 200
        headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        assert client.get("/directmail-summary", params={"communities": "Winson"}, headers=headers).status_code == 200


def test_a_deployed_service_has_no_sign_in_button_route(database_url: str, fake_entra: FakeEntra) -> None:
    deployed = settings_for_tests(Settings, database_url=database_url, environment="staging", **fake_entra.trusted_by())
    with create_app(deployed).test_client() as client:
        for method in ("POST", "GET"):
            response = client.request(method, "/ui/local-sign-in")
            assert (response.status_code, response.headers["content-type"]) == (404, "application/problem+json")
