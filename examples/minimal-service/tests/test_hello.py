"""The service as its callers see it: open probes, and a greeting for token holders only."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.testclient import TestClient

from config import PROJECT_ROOT, Settings
from servicekit.testing import LiveServer, documented_settings

Headers = Callable[..., dict[str, str]]


def test_the_probes_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_no_token_is_a_401_problem(client: TestClient) -> None:
    response = client.get("/hello")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_token_with_the_permission_is_greeted(client: TestClient, auth_headers: Headers) -> None:
    response = client.get("/hello", params={"language": "cy"}, headers=auth_headers(name="Siân"))
    assert response.status_code == 200
    assert response.json() == {"message": "Shwmae, Siân"}


def test_a_token_without_the_permission_is_a_403(client: TestClient, auth_headers: Headers) -> None:
    assert client.get("/hello", headers=auth_headers(roles=[])).status_code == 403


def test_a_bad_parameter_is_a_400_naming_it(client: TestClient, auth_headers: Headers) -> None:
    response = client.get("/hello", params={"language": "fr"}, headers=auth_headers())
    assert response.status_code == 400
    assert "Invalid query parameter 'language'" in response.json()["detail"]


@pytest.mark.slow
def test_served_by_a_real_uvicorn(live_server: LiveServer, auth_headers: Headers) -> None:
    response = httpx.get(f"{live_server.url}/hello", headers=auth_headers(), timeout=10)
    assert response.json() == {"message": "Hello, Staff Member"}


def test_env_example_documents_every_setting() -> None:
    assert documented_settings(PROJECT_ROOT / ".env.example") == {name.upper() for name in Settings.model_fields}
