"""The spec as the kit reads it: Swagger UI's login asks for its scopes, and views must take exactly the
parameters their operations declare, or the service does not start."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from servicekit import service_app
from servicekit.middleware.probes import answered_before_routing
from servicekit.spec import ViewMismatch, ViewResolver, broken_rule, check_views, configured_spec, parameter_schema
from servicekit.swagger_ui import SwaggerUIMissing
from servicekit.testing import API_URI
from tests.fixture_service import SPECIFICATION, VIEWS, FixtureSettings, create_app


def test_swagger_ui_loads_the_spec(client: TestClient) -> None:
    page = client.get("/ui/")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert client.get("/ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/ui/oauth2-redirect.html").status_code == 200


def test_swagger_ui_logs_in_with_pkce_for_every_scope_the_spec_declares(
    make_settings: Callable[..., FixtureSettings],
) -> None:
    settings = make_settings(swagger_ui_client_id="swagger-spa-id", auth_audience=API_URI)
    with create_app(settings).test_client() as client:
        page = client.get("/ui/").text
    assert '"clientId": "swagger-spa-id"' in page
    assert '"usePkceWithAuthorizationCodeGrant": true' in page
    assert f"openid profile offline_access {API_URI}/Fixture.Read {API_URI}/Fixture.Write" in page


def renamed(seconds_before_the_rename: float, note: dict[str, Any]) -> dict[str, Any]:
    return {}


def takes_anything(**query: Any) -> dict[str, Any]:
    return query


def takes_its_parameters(seconds: float, note: dict[str, Any], token_info: dict[str, Any]) -> dict[str, Any]:
    return {}


def spec_of(view: Callable[..., Any]) -> dict[str, Any]:
    operation = {
        "operationId": f"{__name__}.{view.__name__}",
        "parameters": [
            {"$ref": "#/components/parameters/seconds"},
            {"name": "X-Tenant", "in": "header", "schema": {"type": "string"}},  # Connexion passes no headers
        ],
        "requestBody": {"x-body-name": "note", "content": {"application/json": {"schema": {"type": "object"}}}},
    }
    seconds = {"name": "seconds", "in": "query", "schema": {"type": "number"}}
    return {"paths": {"/slow": {"post": operation}}, "components": {"parameters": {"seconds": seconds}}}


def test_a_view_that_takes_its_parameters_and_body_by_name_passes() -> None:
    check_views(spec_of(takes_its_parameters), ViewResolver(__name__))


def test_a_parameter_renamed_in_the_spec_stops_start_up() -> None:
    with pytest.raises(
        ViewMismatch, match=r"parameters it does not take \['seconds'\].*\['seconds_before_the_rename'\]"
    ):
        check_views(spec_of(renamed), ViewResolver(__name__))


def test_a_view_taking_any_keyword_is_refused() -> None:
    with pytest.raises(ViewMismatch, match=r"takes \*\*kwargs: name its parameters instead"):
        check_views(spec_of(takes_anything), ViewResolver(__name__))


def test_a_service_whose_view_does_not_match_its_spec_does_not_start(
    make_settings: Callable[..., FixtureSettings], tmp_path
) -> None:
    spec = tmp_path / "api.yml"
    spec.write_text(
        yaml.safe_dump({"openapi": "3.0.3", "info": {"title": "Renamed", "version": "1"}} | spec_of(renamed))
    )
    with pytest.raises(ViewMismatch, match="seconds_before_the_rename"):
        service_app(__name__, make_settings(), spec)


def test_operation_ids_name_views_in_the_views_module_and_the_probes_in_the_kit() -> None:
    resolver = ViewResolver(__name__)
    assert resolver.view("takes_its_parameters") is takes_its_parameters
    assert resolver.view(f"{__name__}.renamed") is renamed
    assert resolver.view("get_healthz") is resolver.view("get_readyz") is answered_before_routing


def test_the_deployment_fills_in_its_tenant_and_full_scope_names(make_settings: Callable[..., FixtureSettings]) -> None:
    settings = make_settings(auth_tenant_id="tenant-guid", auth_audience=API_URI)
    spec = configured_spec(SPECIFICATION, settings)
    flow = spec["components"]["securitySchemes"]["entra"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "https://login.microsoftonline.com/tenant-guid/oauth2/v2.0/authorize"
    assert flow["tokenUrl"] == "https://login.microsoftonline.com/tenant-guid/oauth2/v2.0/token"
    assert set(flow["scopes"]) == {f"{API_URI}/Fixture.Read", f"{API_URI}/Fixture.Write"}
    assert spec["paths"]["/notes"]["post"]["security"][0] == {"entra": [f"{API_URI}/Fixture.Write"]}


def test_the_published_spec_keeps_its_refs_and_names_no_internal_function(client: TestClient) -> None:
    published = client.get("/openapi.json")
    assert published.status_code == 200
    text = published.text
    assert '"$ref"' in text
    assert "servicekit." not in text
    assert "x-tokenInfoFunc" not in text
    assert published.json()["paths"]["/healthz"]["get"]["operationId"] == "get_healthz"
    assert yaml.safe_load(client.get("/openapi.yaml").text) == published.json()


def test_the_spec_is_served_from_one_place(
    make_settings: Callable[..., FixtureSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings())  # its logging writes to the captured stdout
    with app.test_client() as client:
        assert client.get("/openapi.json").status_code == 200
    assert capsys.readouterr().out.count("Adding spec json: /openapi.json") == 1


def test_a_declared_probe_is_still_answered_before_routing(client: TestClient) -> None:
    assert client.get("/healthz?verbose=1").json() == {"status": "ok"}  # past LivenessMiddleware
    assert client.get("/readyz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_a_service_serves_its_own_swagger_ui_package(make_settings: Callable[..., FixtureSettings], tmp_path) -> None:
    (tmp_path / "index.j2").write_text("{{ service_title }} in {{ environment }} reads {{ openapi_spec_url }}")
    (tmp_path / "plugin.js").write_text("// ours")
    app = service_app(__name__, make_settings(), SPECIFICATION, views=VIEWS, swagger_ui=tmp_path)
    with app.test_client() as client:
        assert client.get("/ui/").text == "Fixture service in test reads /openapi.json"
        assert client.get("/ui/plugin.js").text == "// ours"


def test_a_swagger_ui_package_not_built_stops_start_up(make_settings: Callable[..., FixtureSettings], tmp_path) -> None:
    with pytest.raises(SwaggerUIMissing, match="build it first"):
        service_app(__name__, make_settings(), SPECIFICATION, views=VIEWS, swagger_ui=tmp_path / "build")


def test_data_from_elsewhere_is_checked_by_the_specs_own_rules_for_a_parameter() -> None:
    names = parameter_schema(SPECIFICATION, "names")
    assert broken_rule(names, ["Winson", "Bibury"]) is None
    assert broken_rule(names["items"], "") == "minLength 1"
    assert broken_rule(names["items"], 42) == "type string"


def test_data_from_elsewhere_meets_a_pattern_as_a_request_would() -> None:
    code = {"type": "string", "pattern": r"^\d$"}
    assert broken_rule(code, "7") is None
    assert broken_rule(code, "7\n") == r"pattern ^\d$"  # `$` ends the value
    assert broken_rule(code, "\u0667") == r"pattern ^\d$"  # `\d` is ASCII: no Arabic-Indic seven
