"""One error model: every error is problem+json with the request id, and nothing internal."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from unittest.mock import Mock

import orjson
import pytest
from starlette.testclient import TestClient

from servicekit import ServiceUnavailable, service_app
from servicekit.problems import answering_with
from servicekit.testing import assert_problem, socket_that_never_answers, socket_that_refuses
from tests.fixture_service import SPECIFICATION, VIEWS, FixtureSettings, create_app
from tests.fixture_service.views import INTERNAL_DETAIL


def test_unknown_path_is_404(client: TestClient) -> None:
    assert_problem(client.get("/no-such-thing"), 404)


def test_wrong_method_is_405(client: TestClient) -> None:
    assert_problem(client.post("/slow?seconds=0"), 405)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("seconds=soon", ["Invalid query parameter 'seconds': 'soon' is not of type 'number'"]),
        ("seconds=11", ["Invalid query parameter 'seconds': 11.0 is greater than the maximum of 10"]),
        ("", ["Missing query parameter 'seconds'"]),
        ("seconds=0&extra=1", ["Extra query parameter(s) extra not in spec"]),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter_and_rule(client: TestClient, query: str, names: list[str]) -> None:
    body = assert_problem(client.get(f"/slow?{query}"), 400)
    assert body["detail"] in names


def test_oversized_query_string_is_414(client: TestClient) -> None:
    body = assert_problem(client.get("/slow", params={"seconds": "0", "pad": "x" * 9000}), 414)
    assert "the limit is 8192" in str(body["detail"])


def test_oversized_body_is_413(client: TestClient) -> None:
    body = assert_problem(client.post("/slow?seconds=0", content=b"x" * 1_048_577), 413)
    assert "the limit is 1048576" in str(body["detail"])


def test_a_crash_is_500_without_internals(client: TestClient) -> None:
    response = client.get("/failure")
    body = assert_problem(response, 500)
    assert INTERNAL_DETAIL not in response.text
    assert "Traceback" not in response.text
    assert "request id" in str(body["detail"])


def test_a_services_own_error_gets_the_status_it_maps_it_to(client: TestClient) -> None:
    body = assert_problem(client.get("/conflict"), 409)
    assert body["detail"] == "The note was changed by someone else: fetch it again."


def test_a_service_cannot_remap_an_error_the_kit_answers(make_settings: Callable[..., FixtureSettings]) -> None:
    with pytest.raises(ValueError, match="the kit answers ServiceUnavailable itself"):
        service_app(__name__, make_settings(), SPECIFICATION, problems={ServiceUnavailable: 500}, views=VIEWS)


@pytest.mark.parametrize("database", [socket_that_refuses, socket_that_never_answers], ids=["refuses", "hangs"])
@pytest.mark.parametrize("path", ["/notes", "/numbers?rows=10"])
def test_a_database_that_does_not_answer_is_503_not_500(
    make_settings: Callable[..., FixtureSettings],
    auth_headers: Callable[..., dict[str, str]],
    database: Callable[[], AbstractContextManager[int]],
    path: str,
) -> None:
    with database() as port:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/none"
        settings = make_settings(database_url=url, database_timeout_seconds=1)
        with create_app(settings).test_client() as client:
            response = client.get(path, headers=auth_headers())
    body = assert_problem(response, 503, retry_after="10")
    assert "database is unavailable" in str(body["detail"])


class WindowRefused(Exception):
    invalid_params = (("window", "must end after it starts"),)


def test_a_services_own_error_may_name_the_fields_it_refuses() -> None:
    handle = answering_with(422)
    answer = orjson.loads(handle(Mock(), WindowRefused("The window ends before it starts.")).body)
    assert answer["detail"] == "The window ends before it starts."
    assert answer["invalid_params"] == [{"name": "window", "reason": "must end after it starts"}]
    assert "invalid_params" not in orjson.loads(handle(Mock(), ValueError("no fields named")).body)
