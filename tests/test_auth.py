"""Directmail's data is for Directmail.Read holders only (the kit's own tests cover token validation)."""

from __future__ import annotations

from collections.abc import Callable

import yaml
from starlette.testclient import TestClient

from app import SPECIFICATION

Headers = Callable[..., dict[str, str]]


def test_every_operation_in_the_spec_needs_a_token_but_the_probes(client: TestClient) -> None:
    spec = yaml.safe_load(SPECIFICATION.read_text())
    operations = [(method, path, item[method]) for path, item in spec["paths"].items() for method in item]
    open_to_anyone = {operation["operationId"] for _, _, operation in operations if operation.get("security") == []}
    assert open_to_anyone == {"get_healthz", "get_readyz"}
    for method, path, operation in operations:
        if operation["operationId"] in open_to_anyone:
            continue
        response = client.request(method.upper(), path.replace("{", "").replace("}", ""))
        assert response.status_code == 401, f"{method.upper()} {path} answered without a token"


def test_me_shows_who_the_token_belongs_to_and_what_it_grants(client: TestClient, auth_headers: Headers) -> None:
    caller = client.get("/me", headers=auth_headers(roles=["Directmail.Read"], name="Marketing Person")).json()
    assert (caller["name"], caller["roles"], caller["scopes"]) == ("Marketing Person", ["Directmail.Read"], [])


def test_staff_signed_in_through_a_client_get_in_with_the_delegated_scope(
    client: TestClient, auth_headers: Headers
) -> None:
    response = client.get("/directmail-summary", headers=auth_headers(roles=[], scopes=["Directmail.Read"]))
    assert response.status_code == 200


def test_a_token_without_directmail_read_is_forbidden_everywhere(client: TestClient, auth_headers: Headers) -> None:
    other_role = auth_headers(roles=["Directmail.Admin"], scopes=["User.Read"])
    for path in ("/directmail-csv", "/directmail-summary", "/communities", "/me"):
        response = client.get(path, headers=other_role)
        assert response.status_code == 403, path
        assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="Directmail.Read"'
        assert "Directmail.Admin" not in response.text


def test_me_never_names_a_caller_of_the_wrong_type(client: TestClient, auth_headers: Headers) -> None:
    """A validly signed token whose object id is a number is refused, not echoed back as one."""
    response = client.get("/me", headers=auth_headers(roles=["Directmail.Read"], oid=12345))
    assert response.status_code == 401
    assert "claim 'oid' is malformed" in response.json()["detail"]
