"""Local dev login: trusted with ENVIRONMENT=local, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import make_url

from servicekit.auth.dev_login import dev_key_path, mint_dev_token
from servicekit.middleware.local_sign_in import LOCAL_SIGN_IN_PATH
from servicekit.settings import load_settings
from servicekit.testing import FakeEntra
from tests.fixture_service import FixtureSettings, create_app

MakeSettings = Callable[..., FixtureSettings]


def test_a_dev_token_logs_in_locally(make_settings: MakeSettings) -> None:
    local = make_settings(environment="local")
    token = mint_dev_token(local, roles=["Fixture.Read"], expires_in=3600, name="Dev Person")
    with create_app(local).test_client() as client:
        response = client.get("/caller", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["roles"] == ["Fixture.Read"]
    assert response.json()["name"] == "Dev Person"


def test_the_dev_key_is_readable_by_its_owner_alone(make_settings: MakeSettings) -> None:
    local = make_settings(environment="local")
    mint_dev_token(local, roles=[], expires_in=60)
    assert dev_key_path(local).stat().st_mode & 0o077 == 0
    assert not dev_key_path(local).is_relative_to(FixtureSettings.service_root)  # the plugin's LOCAL_FILES_DIR


@pytest.mark.parametrize("environment", ["test", "staging", "production"])
def test_dev_tokens_are_refused_outside_local(make_settings: MakeSettings, database_url: str, environment: str) -> None:
    token = mint_dev_token(make_settings(environment="local"), roles=["Fixture.Read"], expires_in=3600)
    with_password = make_url(database_url).set(password="s3cure-Pa55").render_as_string(hide_password=False)
    with create_app(make_settings(database_url=with_password, environment=environment)).test_client() as client:
        response = client.get("/caller", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "Invalid issuer 'urn:fixture-service:local-dev-login'" in response.json()["detail"]


@pytest.mark.parametrize("environment", ["test", "staging", "production"])
def test_no_dev_token_is_minted_outside_local(make_settings: MakeSettings, environment: str) -> None:
    settings = make_settings(environment=environment, database_url="postgresql://svc:s3cure-Pa55@db/svc")
    with pytest.raises(PermissionError, match="dev tokens exist only when ENVIRONMENT=local"):
        mint_dev_token(settings, roles=["Fixture.Read"], expires_in=3600)


def test_a_deployment_that_forgets_environment_refuses_dev_tokens(
    make_settings: MakeSettings, database_url: str, fake_entra: FakeEntra
) -> None:
    token = mint_dev_token(make_settings(environment="local"), roles=["Fixture.Read"], expires_in=3600)
    with_password = make_url(database_url).set(password="s3cure-Pa55").render_as_string(hide_password=False)
    unnamed = load_settings(FixtureSettings, _env_file=None, database_url=with_password, **fake_entra.trusted_by())
    with create_app(unnamed).test_client() as client:
        response = client.get("/caller", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_locally_the_browser_signs_in_with_a_button(make_settings: MakeSettings) -> None:
    with create_app(make_settings(environment="local")).test_client() as client:
        signed_in = client.post(LOCAL_SIGN_IN_PATH)
        assert signed_in.status_code == 200
        assert signed_in.headers["cache-control"] == "no-store"
        answer = signed_in.json()
        assert (answer["token_type"], answer["expires_in"], answer["name"]) == ("Bearer", 3600, "Local Developer")
        caller = client.get("/caller", headers={"Authorization": f"Bearer {answer['access_token']}"})
        assert caller.status_code == 200
        assert caller.json()["roles"] == ["Fixture.Read", "Fixture.Write"]  # every permission the spec declares
        refused = client.get(LOCAL_SIGN_IN_PATH)
        assert (refused.status_code, refused.headers["allow"]) == (405, "POST")


@pytest.mark.parametrize("environment", ["test", "staging", "production"])
def test_outside_local_there_is_no_sign_in_button_route(
    make_settings: MakeSettings, database_url: str, environment: str
) -> None:
    with_password = make_url(database_url).set(password="s3cure-Pa55").render_as_string(hide_password=False)
    with create_app(make_settings(database_url=with_password, environment=environment)).test_client() as client:
        for method in ("POST", "GET"):
            response = client.request(method, LOCAL_SIGN_IN_PATH)
            assert response.status_code == 404
            assert "access_token" not in response.text
