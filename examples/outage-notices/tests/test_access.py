"""Who may do what: the probes are open, every operation needs a token the service trusts, granting the
permission the spec names for it."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from servicekit.testing import assert_problem

Headers = Callable[..., dict[str, str]]

NEW_NOTICE = {"title": "Fibre works", "area": "OX29", "starts_at": "2026-12-08T09:00:00+00:00"}


def test_the_probes_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_no_token_is_a_401(client: TestClient) -> None:
    assert_problem(client.get("/notices"), 401)


def test_a_token_from_another_tenant_is_a_401(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token(tid="another-tenant", roles=["Outages.Read"])
    assert_problem(client.get("/notices", headers={"Authorization": f"Bearer {token}"}), 401)


def test_an_expired_token_is_a_401(client: TestClient, auth_headers: Headers) -> None:
    assert_problem(client.get("/notices", headers=auth_headers(expires_in=-60)), 401)


def test_reading_is_not_announcing(client: TestClient, auth_headers: Headers) -> None:
    refused = client.post("/notices", json=NEW_NOTICE, headers=auth_headers(roles=["Outages.Read"]))
    assert_problem(refused, 403)
