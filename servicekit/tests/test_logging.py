"""Logs: ECS JSON lines outside local, one access line per request, and never a secret."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import structlog

from servicekit.logs import REDACTED, configure_logging
from servicekit.testing import LiveServer, eventually, settings_for_tests
from tests.fixture_service import FixtureSettings, create_app

# A JWT-shaped token and a password, neither of which may ever be printed.
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdGFmZiJ9.c2lnbmF0dXJlLWJ5dGVz"
PASSWORD = "Tr0ub4dor-and-3"


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def json_logs(make_settings, capsys: pytest.CaptureFixture[str]):
    """Requests against an app logging JSON to the captured stdout, and the lines it wrote."""

    def requests(*paths: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
        # Built here, inside the test, so that its logging writes to the captured stdout.
        app = create_app(make_settings())
        with app.test_client() as client:
            for path in paths:
                client.get(path, headers=headers)
        return json_lines(capsys.readouterr().out)

    return requests


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["message"] == "request"]


def test_every_line_is_ecs_json(json_logs) -> None:
    lines = json_logs("/slow?seconds=0")
    assert lines
    for line in lines:
        assert line["ecs.version"]
        assert line["log.level"] in {"debug", "info", "warning", "error"}
        assert line["service"] == {"name": "fixture-service", "environment": "test"}
        assert "@timestamp" in line


def test_one_access_line_per_request_with_route_status_bytes_and_id(json_logs) -> None:
    lines = access_lines(json_logs("/slow?seconds=0.01", "/no-such-thing", headers={"X-Request-ID": "trace-me-1"}))
    assert len(lines) == 2
    served, missing = lines
    assert len(served["http"]["request"].pop("id")) == 32
    assert served["http"] == {
        "request": {"caller_id": "trace-me-1", "method": "GET"},
        "response": {"status_code": 200, "body": {"bytes": 19}},
        "route": "/slow",
    }
    assert served["url"] == {"path": "/slow"}
    assert served["event"]["duration"] >= 10_000_000
    assert missing["http"]["response"]["status_code"] == 404
    assert missing["http"]["route"] is None


@pytest.mark.parametrize(
    ("path", "status", "outcome"),
    [
        ("/slow?seconds=0", 200, "success"),
        ("/conflict", 409, "success"),
        ("/no-such-thing", 404, "success"),
        ("/failure", 500, "failure"),
    ],
)
def test_the_outcome_is_a_failure_for_a_5xx_only(json_logs, path: str, status: int, outcome: str) -> None:
    """A 4xx is the client's mistake, answered as designed; a 5xx is the service's failure."""
    (line,) = access_lines(json_logs(path))
    assert (line["http"]["response"]["status_code"], line["event"]["outcome"]) == (status, outcome)


async def _get_and_hang_up(url: str, headers: dict[str, str]) -> int:
    """A GET whose client hangs up the moment it has read the Content-Length it was promised."""
    target = urlsplit(url)
    reader, writer = await asyncio.open_connection(target.hostname, target.port)
    writer.write(
        f"GET {target.path} HTTP/1.1\r\nHost: service.test\r\n".encode()
        + b"".join(f"{name}: {value}\r\n".encode() for name, value in headers.items())
        + b"\r\n"
    )
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.decode().partition(":")
        length = int(value) if name.lower() == "content-length" else length
    await reader.readexactly(length)
    writer.transport.abort()
    return status


def test_a_complete_response_is_a_success_though_the_client_hangs_up_at_once(logged_server, auth_headers) -> None:
    """Flask's body and its empty last message go out separately: a client that has its Content-Length may
    hang up in between (many clients at once, so that some do), and has still had the whole response."""
    headers = auth_headers(roles=["Fixture.Read"])
    with logged_server() as server:

        async def clients() -> list[int]:
            return await asyncio.gather(*(_get_and_hang_up(f"{server.url}/caller", headers) for _ in range(300)))

        assert Counter(asyncio.run(clients())) == {200: 300}
        assert eventually(lambda: len(server.access_lines()) >= 300)
        assert Counter(line["event"]["outcome"] for line in server.access_lines()) == {"success": 300}


def test_successful_probes_are_not_access_logged(json_logs) -> None:
    assert access_lines(json_logs("/healthz", "/readyz")) == []


def test_every_line_of_a_request_carries_its_id(json_logs) -> None:
    lines = json_logs("/failure", headers={"X-Request-ID": "failing-request-7"})
    during_request = [line for line in lines if line["log"]["logger"] in {"servicekit.problems", "servicekit.access"}]
    assert {line["message"] for line in during_request} == {"unhandled error", "request"}
    assert all(line["http"]["request"]["caller_id"] == "failing-request-7" for line in during_request)
    assert len({line["http"]["request"]["id"] for line in during_request}) == 1
    error = next(line for line in lines if line["message"] == "unhandled error")
    assert "RuntimeError" in error["error"]["stack_trace"]


def test_tokens_in_headers_never_reach_the_logs(json_logs) -> None:
    text = json.dumps(json_logs("/slow?seconds=0", headers={"Authorization": f"Bearer {TOKEN}"}))
    assert TOKEN not in text


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        ("calling out", {"authorization": f"Bearer {TOKEN}"}),
        ("calling out", {"headers": {"Authorization": f"Bearer {TOKEN}"}}),
        (f"refused token {TOKEN}", {}),
        ("connecting", {"url": f"postgresql://svc:{PASSWORD}@db/svc"}),
        ("app login", {"client_secret": PASSWORD}),
        ("settings", {"values": [f"password={PASSWORD}", {"password": PASSWORD}]}),
        ("login failed", {"detail": f"wrong password: {PASSWORD}"}),
    ],
)
def test_secrets_are_redacted_wherever_they_appear(
    event: str, fields: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(settings_for_tests(FixtureSettings, database_url="sqlite://"))
    structlog.get_logger("test").warning(event, **fields)
    logging.getLogger("stdlib").warning("stdlib says %s", f"Bearer {TOKEN}")
    out = capsys.readouterr().out
    assert TOKEN not in out
    assert PASSWORD not in out
    assert REDACTED in out


def test_the_redactor_redacts_secrets_not_words(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(settings_for_tests(FixtureSettings, database_url="sqlite://"))
    structlog.get_logger("test").info("request refused", detail="Invalid token: Not enough segments")
    assert "Invalid token: Not enough segments" in capsys.readouterr().out


def test_local_logs_are_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(settings_for_tests(FixtureSettings, database_url="sqlite://", environment="local"))
    structlog.get_logger("test").info("hello", town="Llanfair")
    out = capsys.readouterr().out
    assert "hello" in out
    assert "town" in out
    assert not out.lstrip().startswith("{")
    assert "\x1b[" not in out  # no colour codes where the output is not a terminal: a container's log


def test_local_logs_are_coloured_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    configure_logging(settings_for_tests(FixtureSettings, database_url="sqlite://", environment="local"))
    structlog.get_logger("test").info("hello")
    assert "\x1b[" in capsys.readouterr().out


def test_a_response_whose_body_never_ended_is_logged_as_a_failure(
    make_settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    with LiveServer(create_app(settings), settings) as server:
        with httpx.stream("GET", f"{server.url}/trickle", timeout=10) as response:
            next(response.iter_lines())  # then hang up with four lines still to come

        lines: list[dict[str, Any]] = []

        def logged() -> bool:
            written = access_lines(json_lines(capsys.readouterr().out))
            lines.extend(line for line in written if line["url"]["path"] == "/trickle")
            return bool(lines)

        assert eventually(logged, 5)
    assert lines[0]["http"]["response"]["status_code"] == 200
    assert lines[0]["event"]["outcome"] == "failure"
