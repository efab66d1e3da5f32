"""One source for the response types: the dataclasses (Directmail's and the kit's Caller) are the spec's components."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from connexion.json_schema import resolve_refs
from dataclasses_jsonschema import JsonSchemaMixin
from dataclasses_jsonschema.type_defs import SchemaType
from jsonschema import Draft4Validator
from starlette.testclient import TestClient

import app.data_types
import servicekit.auth.tokens
from app import SPECIFICATION
from config import Settings
from servicekit.spec import configured_spec


def test_the_specs_components_are_the_dataclasses_schemas(settings: Settings) -> None:
    generated = {
        name: schema
        for name, schema in JsonSchemaMixin.all_json_schemas(schema_type=SchemaType.OPENAPI_3).items()
        if schema.get("x-module-name") in {app.data_types.__name__, servicekit.auth.tokens.__name__}
    }
    components = configured_spec(SPECIFICATION, settings)["components"]["schemas"]
    assert set(generated) == {"Caller", "Community", "CommunityCount", "MailingSummary"}
    for name, schema in generated.items():
        published = {key: value for key, value in schema.items() if key != "x-module-name"}  # an internal name
        assert components[name] == published, f"api-spec.yml's {name} differs from app/data_types.py"


@pytest.mark.parametrize(
    ("path", "status_schema"),
    [
        ("/communities", lambda paths: paths["/communities"]["get"]["responses"]["200"]),
        ("/directmail-summary?rfs=true", lambda paths: paths["/directmail-summary"]["get"]["responses"]["200"]),
        ("/me", lambda paths: paths["/me"]["get"]["responses"]["200"]),
    ],
)
def test_responses_match_their_schemas(
    client: TestClient,
    auth_headers: Callable[..., dict[str, str]],
    settings: Settings,
    path: str,
    status_schema: Callable[[dict[str, object]], dict[str, object]],
) -> None:
    paths = resolve_refs(configured_spec(SPECIFICATION, settings))["paths"]
    schema = status_schema(paths)["content"]["application/json"]["schema"]  # type: ignore[index]
    response = client.get(path, headers=auth_headers(roles=["Directmail.Read"]))
    assert response.status_code == 200
    Draft4Validator(schema).validate(response.json())
