"""The contract: api-spec.yml is what /openapi.json serves and what Swagger UI shows."""

from __future__ import annotations

import yaml
from starlette.testclient import TestClient

from config import PROJECT_ROOT


def test_openapi_json_is_the_spec(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    spec = yaml.safe_load((PROJECT_ROOT / "api-spec.yml").read_text())
    served.pop("servers", None)  # Connexion adds the base path it serves under
    assert served == spec


def test_swagger_ui_loads_the_spec(client: TestClient) -> None:
    page = client.get("/ui/")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert client.get("/ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/ui/oauth2-redirect.html").status_code == 200
