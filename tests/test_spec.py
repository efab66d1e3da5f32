"""The contract: api-spec.yml is what /openapi.json serves and what Swagger UI shows."""

from __future__ import annotations

from connexion.json_schema import resolve_refs
from starlette.testclient import TestClient

from config import Settings
from tests.conftest import build_app, rendered_spec, settings_for_tests
from tests.fake_entra import API_URI


def test_openapi_json_is_the_spec_with_its_settings_filled_in(client: TestClient, settings: Settings) -> None:
    served = client.get("/openapi.json").json()
    spec = resolve_refs(rendered_spec(settings))  # Connexion serves the spec with its $refs resolved in place
    assert spec["components"]["securitySchemes"]["entra"]["flows"]["authorizationCode"]["scopes"] == {
        f"{API_URI}/Directmail.Read": "Read mailing lists and communities"
    }
    served.pop("servers", None)  # Connexion adds the base path it serves under
    assert served == spec


def test_swagger_ui_loads_the_spec(client: TestClient) -> None:
    page = client.get("/ui/")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert client.get("/ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/ui/oauth2-redirect.html").status_code == 200


def test_swagger_ui_logs_in_with_pkce_when_configured(database_url: str) -> None:
    settings = settings_for_tests(database_url, swagger_ui_client_id="swagger-spa-id", auth_audience=API_URI)
    with build_app(settings).test_client() as client:
        page = client.get("/ui/").text
    assert '"clientId": "swagger-spa-id"' in page
    assert '"usePkceWithAuthorizationCodeGrant": true' in page
    assert f"{API_URI}/Directmail.Read" in page
