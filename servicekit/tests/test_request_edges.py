"""Requests at the edges, as an attacker or a sloppy client sends them: each is refused cleanly, or read
exactly one way, before it can reach a view as something else."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Iterator
from contextlib import closing
from urllib.parse import urlsplit

import orjson
import pytest
from starlette.testclient import TestClient

from servicekit.problems import InvalidParams, problem_body
from servicekit.testing import TEST_ORIGIN, LiveServer
from servicekit.validation import ParameterValidator


@pytest.fixture
def raw_get(live_server: LiveServer) -> Iterator[Callable[..., http.client.HTTPResponse]]:
    """GET a target exactly as written (`//caller`, `/%2Fcaller`): HTTP clients would normalise it."""
    address = urlsplit(live_server.url)
    connections: list[http.client.HTTPConnection] = []

    def get(target: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        connections.append(connection)
        connection.request("GET", target, headers=headers or {})
        return connection.getresponse()

    yield get
    for connection in connections:
        connection.close()


@pytest.mark.parametrize("target", ["//caller", "/%2Fcaller", "//caller/", "//slow?seconds=0"])
def test_a_path_no_operation_matches_never_reaches_a_view(raw_get, auth_headers, target: str) -> None:
    anonymous: dict[str, str] = {}
    for headers in (anonymous, auth_headers()):
        response = raw_get(target, headers)
        assert response.status == 404
        assert response.getheader("content-type") == "application/problem+json"
        assert "No operation of this API answers at this path" in orjson.loads(response.read())["detail"]


@pytest.mark.parametrize("target", ["/caller/", "/ui"])
def test_redirects_never_name_the_host_the_request_claimed(raw_get, target: str) -> None:
    response = raw_get(target, {"Host": "evil.example"})
    response.read()
    if response.status in (301, 302, 307, 308):
        location = response.getheader("location") or ""
        assert location.startswith("/")
        assert "evil.example" not in location
    else:
        assert response.status == 404


def test_a_repeated_single_valued_parameter_is_refused(client: TestClient) -> None:
    response = client.get("/echo?code=AB1&code=CD2")
    assert response.status_code == 400
    assert response.json()["detail"] == "Query parameter 'code' is given 2 times; it takes one value."
    assert client.get("/numbers?rows=1&rows=5").status_code == 400


def test_a_repeatable_array_parameter_takes_every_value(client: TestClient) -> None:
    assert client.get("/echo?tags=a&tags=b").json()["tags"] == ["a", "b"]


def test_each_value_of_a_repeated_array_is_one_item_commas_and_all(client: TestClient) -> None:
    tags = client.get("/echo", params={"tags": ["Ely, Cambs", 'say "hi"', "Diss"]}).json()["tags"]
    assert tags == ["Ely, Cambs", 'say "hi"', "Diss"]
    assert client.get("/echo?tags=a,b").json()["tags"] == ["a,b"]


@pytest.mark.parametrize(
    ("places", "items"),
    [
        (["Ely, Cambs", "Diss"], ["Ely, Cambs", "Diss"]),  # repeated: each value as it stands
        ("Ely, Cambs", ["Ely, Cambs"]),  # one value the service knows as it stands
        ('Diss,"Ely, Cambs"', ["Diss", "Ely, Cambs"]),  # any other one value: a CSV line
        ("Ely,Diss", ["Ely", "Diss"]),
        ("Cambridgeshire", ["Cambridgeshire"]),  # too long for a place, but the service's to refuse
    ],
)
def test_a_csv_line_array_takes_the_standard_form_and_one_csv_line(
    client: TestClient, places: str | list[str], items: list[str]
) -> None:
    response = client.get("/echo", params={"places": places})
    assert response.status_code == 400 if items == ["Cambridgeshire"] else 200
    if response.status_code == 200:
        assert response.json()["places"] == items


@pytest.mark.parametrize(
    ("places", "detail"),
    [
        ("Ely,Diss,Ely,Diss", "Invalid query parameter 'places': ['Ely', 'Diss', 'Ely', 'Diss'] is too long"),
        ("Ely, Cambridgeshire", "Invalid query parameter 'places': 'Cambridgeshire' is too long"),
        ('Ely,"Diss', "Invalid query parameter 'places': 'Ely,\"Diss' is not a comma-separated list"),
        ("Ely,,Diss", "Invalid query parameter 'places': '' should be non-empty"),
        (["Ely, Cambs", "Ely,Diss,March"], "Invalid query parameter 'places': 'Ely,Diss,March' is too long"),
    ],
)
def test_a_csv_line_whose_items_break_the_rules_is_a_400_naming_the_rule(
    client: TestClient, places: str | list[str], detail: str
) -> None:
    response = client.get("/echo", params={"places": places})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail), response.json()["detail"]


@pytest.mark.parametrize(
    ("names", "items"),
    [
        ("Winson", ["Winson"]),
        ('Winson,"Ashton Keynes, Wiltshire"', ["Winson", "Ashton Keynes, Wiltshire"]),
        ('Winson, "Ashton Keynes, Wiltshire"', ["Winson", "Ashton Keynes, Wiltshire"]),
        ('"Say ""hello""",Tŷ Croes', ['Say "hello"', "Tŷ Croes"]),
        ("Bryn'r Eglwys,O'Neill's", ["Bryn'r Eglwys", "O'Neill's"]),
    ],
)
def test_a_comma_separated_array_reads_quoted_items_as_csv_does(
    client: TestClient, names: str, items: list[str]
) -> None:
    assert client.get("/echo", params={"names": names}).json()["names"] == items


@pytest.mark.parametrize("names", ['Winson,"Bibury', 'Winson,"Bib"ury"', "Winson\r", "Winson\nBibury", "a,,b"])
def test_a_comma_separated_array_that_is_not_a_csv_line_is_a_400_naming_it(client: TestClient, names: str) -> None:
    response = client.get("/echo", params={"names": names})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid query parameter 'names'")


@pytest.mark.parametrize("code", ["AB1\n", "AB1\r\n", "\nAB1"])
def test_a_pattern_does_not_accept_a_newline_at_either_end(client: TestClient, code: str) -> None:
    response = client.get("/echo", params={"code": code})
    assert response.status_code == 400
    assert "Invalid query parameter 'code'" in response.json()["detail"]
    assert client.get("/echo", params={"code": "AB1"}).json()["code"] == "AB1"


@pytest.mark.parametrize(
    ("pattern", "ascii_value", "other_script"),
    [(r"^\d+$", "42", "٤٢"), (r"^\w+$", "Winson_2", "Wînsøn")],
)
def test_a_patterns_classes_are_ascii_as_ecma_262_says(pattern: str, ascii_value: str, other_script: str) -> None:
    parameter = {"name": "code", "in": "query", "schema": {"type": "string", "pattern": pattern}}
    ParameterValidator.validate_parameter("query", ascii_value, parameter)
    with pytest.raises(InvalidParams) as refusal:
        ParameterValidator.validate_parameter("query", other_script, parameter)
    assert refusal.value.detail == f"Invalid query parameter 'code': {other_script!r} does not match {pattern!r}"


@pytest.mark.parametrize(
    ("path", "name", "sent", "kind"),
    [
        ("/numbers", "rows", "\u0661\u0662", "integer"),  # Arabic-Indic 12, which int() reads as 12
        ("/numbers", "rows", "1_000", "integer"),
        ("/numbers", "rows", " 12", "integer"),
        ("/slow", "seconds", "nan", "number"),  # NaN would pass the maximum and crash the view
        ("/slow", "seconds", "inf", "number"),
        ("/slow", "seconds", "\u0660.\u0665", "number"),
    ],
)
def test_a_number_is_written_in_ascii_numerals(client: TestClient, path: str, name: str, sent: str, kind: str) -> None:
    response = client.get(path, params={name: sent})
    assert response.status_code == 400
    assert response.json()["detail"] == f"Invalid query parameter '{name}': {sent!r} is not of type '{kind}'"


@pytest.mark.parametrize("seconds", ["0", "0.01", "+0", ".01", "1e-2", "1E-2"])
def test_numerals_as_json_and_people_write_them_are_read(client: TestClient, seconds: str) -> None:
    assert client.get("/slow", params={"seconds": seconds}).status_code == 200


def test_an_error_quotes_only_an_excerpt_of_the_value(client: TestClient) -> None:
    sent = "X" * 5000
    for target in (f"/echo?code={sent}", f"/echo?word={sent}"):
        detail = client.get(target).json()["detail"]
        assert len(detail) < 200
        assert "XXXX..." in detail


def test_view_and_validator_read_one_decoding(client: TestClient) -> None:
    assert client.get("/echo?word=caf%C3%A9").json()["word"] == "café"
    for target in ("/echo?word=%FF%FE", "/ech%FFo"):
        response = client.get(target)
        assert response.status_code == 400
        assert "not UTF-8 once percent-decoded" in response.json()["detail"]


def test_a_body_that_is_not_utf8_is_a_400(client: TestClient, auth_headers) -> None:
    headers = auth_headers() | {"Content-Type": "application/json"}
    response = client.post("/notes", content=b'{"body": "\xff"}', headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_a_chunked_body_past_the_limit_is_a_413_as_soon_as_it_passes_and_the_connection_closes(
    live_server: LiveServer, auth_headers
) -> None:
    address = urlsplit(live_server.url)
    head = [
        "POST /notes HTTP/1.1",
        f"Host: {address.netloc}",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        *(f"{name}: {value}" for name, value in auth_headers().items()),
    ]
    chunk = b"x" * 65_536
    with socket.create_connection((address.hostname or "", address.port or 80), timeout=10) as connection:
        connection.sendall("\r\n".join(head).encode() + b"\r\n\r\n")
        # One chunk past 1 MiB, and no end: a server waiting for the whole body would never answer.
        for _ in range(1_048_576 // len(chunk) + 1):
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        response = http.client.HTTPResponse(connection)
        response.begin()
        assert response.status == 413
        assert response.getheader("connection") == "close"
        assert response.getheader("content-type") == "application/problem+json"
        assert orjson.loads(response.read())["detail"] == "The body is more than 1048576 bytes; the limit is 1048576."
        assert connection.recv(1) == b""  # closed: the rest of the body is never read


def test_a_chunked_body_within_the_limit_reaches_the_validator_whole(live_server: LiveServer, auth_headers) -> None:
    address = urlsplit(live_server.url)
    headers = auth_headers() | {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    with closing(http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)) as connection:
        body = iter([b'{"title": ', b'"no body"}'])
        connection.request("POST", "/notes", body=body, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 400
        assert "'body' is a required property" in orjson.loads(response.read())["detail"]


@pytest.mark.parametrize(
    ("accept_encoding", "coding"),
    [
        ("br;q=0", None),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("gzip, deflate, br, zstd", "zstd"),  # what browsers and curl send: zstd on a tie
        ("zstd;q=0.5, br", "br"),
        ("*", "zstd"),
        ("*;q=0", None),
    ],
)
def test_compression_honours_q_values(client: TestClient, accept_encoding: str, coding: str | None) -> None:
    response = client.get("/big", headers={"Accept-Encoding": accept_encoding})
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == coding


def test_problem_extensions_cannot_replace_the_standard_members() -> None:
    body = orjson.loads(
        problem_body(503, "down", extensions={"status": 200, "type": "https://evil.example", "retry": 5})
    )
    assert (body["status"], body["type"], body["retry"]) == (503, "about:blank", 5)


def test_swagger_uis_looser_policy_is_for_swagger_ui_alone(client: TestClient) -> None:
    assert "unsafe-inline" in client.get("/ui/").headers["content-security-policy"]
    for path in ("/uiadmin", "/ui-fake", "/healthz"):
        assert client.get(path).headers["content-security-policy"].startswith("default-src 'none'")


def test_probes_get_the_security_headers_and_limits(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert client.get(f"/healthz?pad={'x' * 10_000}").status_code == 414


def test_browser_scripts_may_read_the_challenge_and_the_retry_hint(client: TestClient) -> None:
    response = client.get("/caller", headers={"Origin": TEST_ORIGIN})
    assert response.status_code == 401
    exposed = {name.strip().lower() for name in response.headers["access-control-expose-headers"].split(",")}
    assert {"www-authenticate", "retry-after", "x-request-id"} <= exposed
