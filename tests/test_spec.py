"""The contract: api-spec.yml is what /openapi.json serves and what Swagger UI shows."""

from __future__ import annotations

from collections.abc import Callable

from connexion.json_schema import resolve_refs
from starlette.testclient import TestClient

from app import SPECIFICATION, create_app
from config import Settings
from servicekit.spec import rendered_spec
from servicekit.testing import API_URI


def test_openapi_json_is_the_spec_with_its_settings_filled_in(client: TestClient, settings: Settings) -> None:
    served = client.get("/openapi.json").json()
    spec = resolve_refs(rendered_spec(SPECIFICATION, settings))  # Connexion serves it with its $refs resolved
    assert spec["components"]["securitySchemes"]["entra"]["flows"]["authorizationCode"]["scopes"] == {
        f"{API_URI}/Directmail.Read": "Read mailing lists and communities"
    }
    served.pop("servers", None)  # Connexion adds the base path it serves under
    assert served == spec


def test_swagger_ui_shows_directmail_and_logs_in_for_directmail_read(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(swagger_ui_client_id="swagger-spa-id", auth_audience=API_URI)
    with create_app(settings).test_client() as client:
        page = client.get("/ui/")
        spec = client.get("/openapi.json").json()
    assert page.status_code == 200
    assert spec["info"]["title"] == "Directmail"
    assert f'"scopes": "openid profile offline_access {API_URI}/Directmail.Read"' in page.text
