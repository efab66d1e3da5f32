"""A spec's `format` is checked, in parameters (query, path, header) and JSON bodies alike: a bad value is
a 400 naming the field and how its values are written, in `detail` for a person and in `invalid_params`
for a program."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from servicekit.testing import assert_problem
from tests.notices import a_notice

# Each format: a value it refuses, and how the refusal says its values are written.
REFUSED = {
    "date": ("2026-02-30", "(YYYY-MM-DD)"),
    "date-time": ("2026-12-07 10:00", "(YYYY-MM-DDThh:mm:ssZ, RFC 3339)"),
    "email": ("nobody", "(name@domain)"),
    "uri": ("not a uri", "(scheme:rest, RFC 3986, such as https://host/path)"),
    "uuid": ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "(8-4-4-4-12 hexadecimal digits)"),
}


def refused(response: Any, detail: str, name: str) -> None:
    body = assert_problem(response, 400)
    assert body["detail"] == detail
    reason = detail.split(": ", 1)[1] if detail.startswith("Invalid ") else detail.rsplit(" - ", 1)[0]
    assert body["invalid_params"] == [{"name": name, "reason": reason}]


@pytest.mark.parametrize(("parameter", "kind"), [("day", "date"), ("since", "date-time"), ("link", "uri")])
def test_a_query_parameters_format_is_checked(client: TestClient, parameter: str, kind: str) -> None:
    value, form = REFUSED[kind]
    detail = f"Invalid query parameter '{parameter}': {value!r} is not a {kind!r} {form}"
    refused(client.get("/notices", params={parameter: value}), detail, parameter)


def test_a_header_parameters_format_is_checked(client: TestClient) -> None:
    value, form = REFUSED["email"]
    detail = f"Invalid header parameter 'X-Reply-To': {value!r} is not a 'email' {form}"
    refused(client.get("/notices", headers={"X-Reply-To": value}), detail, "X-Reply-To")


def test_a_path_parameters_format_is_checked(client: TestClient) -> None:
    value, form = REFUSED["uuid"]
    detail = f"Invalid path parameter 'reference': {value!r} is not a 'uuid' {form}"
    refused(client.get(f"/notices/{value}"), detail, "reference")


def test_well_formed_parameters_pass(client: TestClient) -> None:
    answer = client.get(
        "/notices",
        params={"day": "2026-12-07", "since": "2026-12-07T10:00:00+01:00", "link": "https://status.isp.test/x"},
        headers={"X-Reply-To": "ops@isp.test"},
    )
    assert answer.status_code == 200
    assert answer.json()["reply_to"] == "ops@isp.test"


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("published_on", "date"),
        ("starts_at", "date-time"),
        ("contact", "email"),
        ("link", "uri"),
        ("reference", "uuid"),
    ],
)
def test_a_json_bodys_formats_are_checked(client: TestClient, field: str, kind: str) -> None:
    value, form = REFUSED[kind]
    detail = f"{value!r} is not a {kind!r} {form} - '{field}'"
    refused(client.post("/notices", json=a_notice(**{field: value})), detail, f"$.{field}")


def test_every_refused_field_of_a_body_is_listed_by_its_json_path(client: TestClient) -> None:
    notice = a_notice(contact="nobody", area="north")
    del notice["reference"], notice["ends_at"]
    body = assert_problem(client.post("/notices", json=notice), 400)
    assert body["detail"]  # one of them, as before, for a person
    assert sorted(body["invalid_params"], key=lambda field: field["name"]) == [
        {"name": "$.area", "reason": "'north' is not of type 'integer'"},
        {"name": "$.contact", "reason": "'nobody' is not a 'email' (name@domain)"},
        {"name": "$.ends_at", "reason": "is required"},
        {"name": "$.reference", "reason": "is required"},
    ]


def test_a_missing_parameter_is_listed_too(client: TestClient) -> None:
    body = assert_problem(client.get("/notices.csv"), 400)
    assert body["detail"] == "Missing query parameter 'area'"
    assert body["invalid_params"] == [{"name": "area", "reason": "is required"}]


def test_a_parameter_the_operation_does_not_declare_is_listed_too(client: TestClient) -> None:
    body = assert_problem(client.get("/notices", params={"area": "7"}), 400)
    assert body["detail"] == "Extra query parameter(s) area not in spec"
    assert body["invalid_params"] == [{"name": "area", "reason": "is not a parameter of this operation"}]
