"""The contract as a product: api-spec.yml is a plain OpenAPI document, and /openapi.json serves it with its
$refs, named components and this deployment's login, so that Swagger UI and generated clients read it well."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from starlette.testclient import TestClient

from app import SPECIFICATION, create_app
from config import Settings
from servicekit.spec import HTTP_METHODS, configured_spec
from servicekit.testing import API_URI

PROBLEM_STATUSES = {"400", "404", "405", "413", "414", "500"}
SECURED_PROBLEM_STATUSES = PROBLEM_STATUSES | {"401", "403", "503"}
REQUIRED_HEADERS = {
    "401": {"WWW-Authenticate", "X-Request-ID"},
    "403": {"WWW-Authenticate", "X-Request-ID"},
    "405": {"Allow", "X-Request-ID"},
}


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def keys(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from keys(value)


def resolved(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = spec["components"][kind][name]
    return node


def test_openapi_json_is_the_spec_with_its_refs_and_this_deployments_login(
    client: TestClient, settings: Settings
) -> None:
    served = client.get("/openapi.json").json()
    assert served == configured_spec(SPECIFICATION, settings)
    assert served["components"]["securitySchemes"]["entra"]["flows"]["authorizationCode"]["scopes"] == {
        f"{API_URI}/Directmail.Read": "Read mailing lists and communities"
    }
    assert {"$ref": "#/components/schemas/MailingSummary"} in [
        content["schema"]
        for content in served["paths"]["/directmail-summary"]["get"]["responses"]["200"]["content"].values()
    ]


def test_the_file_is_plain_openapi_with_nothing_internal_in_it() -> None:
    text = SPECIFICATION.read_text()
    assert "{{" not in text  # no template placeholders
    assert "{%" not in text
    spec = yaml.safe_load(text)
    # Only x-csv-line, which declares to readers and tools what the parameter's description says in words
    # (one value may be a CSV line): no extension names an implementation (a controller, a function).
    assert {key for key in keys(spec) if key.startswith("x-")} == {"x-csv-line"}
    assert spec["servers"]
    assert spec["info"]["license"]["name"]
    for name, operation in operations(spec):
        assert re.fullmatch(r"[a-z_]+", operation["operationId"]), f"{name}: {operation['operationId']}"


def test_the_probes_are_declared_operations_open_to_anyone() -> None:
    spec = yaml.safe_load(SPECIFICATION.read_text())
    assert spec["paths"]["/healthz"]["get"]["operationId"] == "get_healthz"
    assert spec["paths"]["/readyz"]["get"]["operationId"] == "get_readyz"
    assert spec["paths"]["/healthz"]["get"]["security"] == spec["paths"]["/readyz"]["get"]["security"] == []


def test_every_operation_declares_its_problems_with_an_example_and_their_headers() -> None:
    spec = yaml.safe_load(SPECIFICATION.read_text())
    for name, operation in operations(spec):
        responses = operation["responses"]
        expected = SECURED_PROBLEM_STATUSES if operation.get("security") != [] else PROBLEM_STATUSES
        assert expected <= responses.keys(), f"{name} lacks {sorted(expected - responses.keys())}"
        for status in responses.keys() - {"200"}:
            response = resolved(spec, responses[status])
            problem = response["content"]["application/problem+json"]
            examples = (
                [problem["example"]] if "example" in problem else [e["value"] for e in problem["examples"].values()]
            )
            assert examples, f"{name} {status}"
            assert all(example["status"] == int(status) for example in examples), f"{name} {status}"
            headers = set(response["headers"])
            assert REQUIRED_HEADERS.get(status, {"X-Request-ID"}) <= headers, f"{name} {status}: {headers}"
            if status == "503" and "Retry-After" not in headers:
                assert name == "GET /readyz"  # a probe says no more than that it is not ready


def test_the_download_declares_its_file_name() -> None:
    spec = yaml.safe_load(SPECIFICATION.read_text())
    headers = spec["paths"]["/directmail-csv"]["get"]["responses"]["200"]["headers"]
    assert resolved(spec, headers["Content-Disposition"])["required"] is True


def test_problems_served_match_the_declared_examples(client: TestClient) -> None:
    """What the service sends for each kind of refusal has the title, status and headers the spec shows."""
    spec = yaml.safe_load(SPECIFICATION.read_text())
    answers = {
        "401": client.get("/me"),
        "404": client.get("/nowhere"),
        "405": client.delete("/me"),
        "413": client.post("/me", content=b"x" * 2_000_000),
        "414": client.get("/me?" + "x" * 9000),
    }
    for status, answer in answers.items():
        declared = resolved(spec, spec["paths"]["/me"]["get"]["responses"][status])
        example = declared["content"]["application/problem+json"]["example"]
        assert answer.status_code == int(status)
        assert answer.headers["content-type"] == "application/problem+json"
        assert {key: answer.json()[key] for key in ("type", "title", "status")} == {
            key: example[key] for key in ("type", "title", "status")
        }
        for header in declared["headers"]:
            assert header in answer.headers, f"{status} lacks {header}"


def test_swagger_ui_shows_directmail_and_logs_in_for_directmail_read(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(swagger_ui_client_id="swagger-spa-id", auth_audience=API_URI)
    with create_app(settings).test_client() as client:
        page = client.get("/ui/")
        spec = client.get("/openapi.json").json()
    assert page.status_code == 200
    assert spec["info"]["title"] == "Directmail"
    assert f'"scopes": "openid profile offline_access {API_URI}/Directmail.Read"' in page.text
