"""The pytest plugin's token fixtures: any roles, scopes, expiry, or a key the tenant never published."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.testclient import TestClient

Headers = Callable[..., dict[str, str]]


def test_by_default_a_token_grants_every_permission_the_spec_declares(
    client: TestClient, auth_headers: Headers, declared_permissions: list[str]
) -> None:
    assert declared_permissions == ["Fixture.Read", "Fixture.Write"]
    assert client.get("/caller", headers=auth_headers()).json()["roles"] == declared_permissions


def test_delegated_scopes_instead_of_roles(client: TestClient, auth_headers: Headers) -> None:
    caller = client.get("/caller", headers=auth_headers(roles=[], scopes=["Fixture.Read"])).json()
    assert (caller["roles"], caller["scopes"]) == ([], ["Fixture.Read"])


def test_an_expired_token(client: TestClient, auth_headers: Headers) -> None:
    response = client.get("/caller", headers=auth_headers(expires_in=-3600))
    assert response.status_code == 401
    assert "Signature has expired" in response.json()["detail"]


def test_a_token_signed_with_the_wrong_key(client: TestClient, auth_headers: Headers) -> None:
    response = client.get("/caller", headers=auth_headers(wrong_key=True))
    assert response.status_code == 401
    assert "Signature verification failed" in response.json()["detail"]


@pytest.mark.anyio
async def test_the_async_client_runs_the_lifespan(async_client: httpx.AsyncClient, auth_headers: Headers) -> None:
    assert (await async_client.get("/readyz")).status_code == 200
    assert (await async_client.get("/caller", headers=auth_headers(name="Async Person"))).json()[
        "name"
    ] == "Async Person"
