"""Request id, CORS, compression and security headers, on successes and errors alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from servicekit import service_app
from servicekit.testing import TEST_ORIGIN
from tests.fixture_service import SPECIFICATION, VIEWS, create_app

PREFLIGHT = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}


def test_a_request_id_is_made_when_none_is_given(client: TestClient) -> None:
    first = client.get("/openapi.json").headers["x-request-id"]
    second = client.get("/openapi.json").headers["x-request-id"]
    assert len(first) == 32
    assert first != second


@pytest.mark.parametrize("path", ["/no-such-thing", "/healthz"])
def test_a_callers_request_id_never_replaces_ours(client: TestClient, path: str) -> None:
    """Two callers offering the same id still get two ids: the one in the logs and the audit trail is unique."""
    first, second = (client.get(path, headers={"X-Request-ID": "edge-7f3a.42"}) for _ in range(2))
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2
    assert all(len(request_id) == 32 for request_id in ids)
    if first.status_code == 404:
        assert first.json()["request_id"] == first.headers["x-request-id"]


def test_preflight_from_an_allowed_origin_is_granted(client: TestClient) -> None:
    response = client.options("/slow", headers={"Origin": TEST_ORIGIN, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == TEST_ORIGIN
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert "GET" in response.headers["access-control-allow-methods"]


def test_preflight_grants_the_methods_the_spec_declares_and_no_other(client: TestClient) -> None:
    write = {**PREFLIGHT, "Access-Control-Request-Method": "POST"}
    assert client.options("/notes", headers={"Origin": TEST_ORIGIN, **write}).status_code == 200
    delete = {**PREFLIGHT, "Access-Control-Request-Method": "DELETE"}
    assert client.options("/notes", headers={"Origin": TEST_ORIGIN, **delete}).status_code == 400


def test_preflight_from_another_origin_gets_no_grant(client: TestClient) -> None:
    response = client.options("/slow", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "origin" in response.json()["detail"]
    assert "access-control-allow-origin" not in response.headers


def test_errors_carry_cors_headers_for_allowed_origins(client: TestClient) -> None:
    response = client.get("/no-such-thing", headers={"Origin": TEST_ORIGIN})
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == TEST_ORIGIN
    assert "X-Request-ID" in response.headers["access-control-expose-headers"]


def test_simple_requests_from_another_origin_get_no_grant(client: TestClient) -> None:
    response = client.get("/slow?seconds=0", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_brotli_for_clients_that_accept_it(client: TestClient) -> None:
    response = client.get("/big", headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "br"
    raw = client.get("/big", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert response.json() == raw.json()  # the test client decodes br transparently
    assert response.num_bytes_downloaded < raw.num_bytes_downloaded / 5


def test_gzip_for_clients_without_brotli(client: TestClient) -> None:
    response = client.get("/big", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["rows"]) == 1000


def test_security_headers_on_data_and_errors(client: TestClient) -> None:
    for response in (client.get("/slow?seconds=0"), client.get("/no-such-thing")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in response.headers


def test_swagger_ui_gets_a_policy_it_can_run_under_and_may_be_cached(client: TestClient) -> None:
    response = client.get("/ui/")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
    # Connexion's stock page starts itself with an inline script.
    assert directives(response.headers["content-security-policy"])["script-src"] == "'self' 'unsafe-inline'"
    assert "cache-control" not in response.headers


def test_a_services_own_swagger_ui_runs_no_inline_script(make_settings, tmp_path: Path) -> None:
    (tmp_path / "index.j2").write_text('<script src="./start.js"></script>')
    (tmp_path / "start.js").write_text("window.started = true;")
    app = service_app(__name__, make_settings(), SPECIFICATION, views=VIEWS, swagger_ui=tmp_path)
    with app.test_client() as client:
        for path in ("/ui/", "/ui/start.js"):
            assert directives(client.get(path).headers["content-security-policy"])["script-src"] == "'self'"


def directives(policy: str) -> dict[str, str]:
    """A Content-Security-Policy's directives, by name."""
    return dict(directive.strip().partition(" ")[::2] for directive in policy.split(";"))


def test_hsts_when_configured(make_settings) -> None:
    app = create_app(make_settings(hsts_max_age_seconds=31536000))
    with app.test_client() as client:
        response = client.get("/openapi.json")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
