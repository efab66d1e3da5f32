"""The audit trail and an honest access log, on a real uvicorn: every audited download writes one audit
event, however it ends, carrying who asked, what for, what it handed over, its request id and its trace;
the access line names the route template, which Connexion's routing keeps from outer middleware."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import elasticapm
import httpx
import pytest
import structlog

from servicekit import AuditedAccess, audited
from servicekit.auth.tokens import Caller
from servicekit.downloads import CHUNK_BYTES
from servicekit.logs import configure_logging
from servicekit.testing import (
    FakeApmServer,
    eventually,
    settings_for_tests,
    slow_reader,
    terminate_queries,
)
from tests.fixture_service import FixtureSettings

ROWS = 2_000_000  # about 15 MB: far more than the socket buffers hold
ALL_BYTES = sum(len(f"{n}\n") for n in range(1, ROWS + 1))
CALLER = {"oid": "4d3c2b1a-0000-4000-8000-00000000a0d1", "azp": "mailing-app", "name": "Ann Auditor"}
Headers = dict[str, str]
IDENTITY = {"Accept-Encoding": "identity"}
RECEIVE_BUFFER = 16 * 1024


@pytest.fixture
def reader(auth_headers: Callable[..., Headers]) -> Headers:
    return auth_headers(**CALLER)


def test_a_complete_download_writes_one_event_with_who_what_and_how_much(
    logged_server: Callable[..., Any], reader: Headers
) -> None:
    identity = reader | {"Accept-Encoding": "identity", "X-Request-ID": "audit-me-1"}
    with logged_server() as server:
        response = httpx.get(f"{server.url}/audited-numbers", params={"rows": 1234}, headers=identity, timeout=10)
        assert response.status_code == 200
        event = server.the_audit_event()
    assert event["message"] == "audit"
    assert event["event"] == {
        "kind": "event",
        "category": ["database"],
        "type": ["access"],
        "action": "numbers-download",
        "outcome": "success",
    }
    assert event["user"] == {"id": CALLER["oid"], "app_id": CALLER["azp"], "name": CALLER["name"]}
    assert event["audit"] == {
        "asked": {"rows": 1234},
        "outcome": "complete",
        "rows": 1234,
        "bytes": len(response.content),
    }
    assert event["http"]["request"] == {"id": response.headers["x-request-id"], "caller_id": "audit-me-1"}
    assert reader["Authorization"].removeprefix("Bearer ") not in json.dumps(event)


def test_a_head_request_is_an_abandoned_download(logged_server: Callable[..., Any], reader: Headers) -> None:
    with logged_server() as server:
        response = httpx.head(f"{server.url}/audited-numbers", params={"rows": ROWS}, headers=reader, timeout=10)
        assert response.status_code == 200
        event = server.the_audit_event()
    assert event["audit"]["outcome"] == "abandoned"
    assert event["audit"]["bytes"] == 0
    assert event["event"]["outcome"] == "unknown"
    assert event["http"]["request"]["id"] == response.headers["x-request-id"]


@pytest.mark.slow
def test_a_hang_up_is_an_abandoned_download(logged_server: Callable[..., Any], reader: Headers) -> None:
    with logged_server() as server:
        with (
            slow_reader(headers=reader | {"Accept-Encoding": "identity"}) as client,
            client.stream("GET", f"{server.url}/audited-numbers?rows={ROWS}") as response,
        ):
            first_chunk = next(response.iter_raw())
            request_id = response.headers["x-request-id"]
        event = server.the_audit_event()
    assert event["audit"]["outcome"] == "abandoned"
    assert len(first_chunk) <= event["audit"]["bytes"] < ALL_BYTES
    assert event["audit"]["rows"] is None  # the count comes from the database, when the COPY has finished
    assert event["http"]["request"]["id"] == request_id


@pytest.mark.slow
def test_a_database_failure_midway_is_a_failed_download(
    logged_server: Callable[..., Any], reader: Headers, database_url: str
) -> None:
    with logged_server() as server:
        with (
            slow_reader(headers=reader | {"Accept-Encoding": "identity"}) as client,
            client.stream("GET", f"{server.url}/audited-numbers?rows={ROWS}") as response,
        ):
            chunks = response.iter_raw()
            next(chunks)
            terminate_queries(database_url, "COPY")
            with pytest.raises(httpx.RemoteProtocolError):
                for _ in chunks:
                    pass
        event = server.the_audit_event()
    assert event["audit"]["outcome"] == "failed"
    assert event["event"]["outcome"] == "failure"
    assert event["http"]["request"]["id"] == response.headers["x-request-id"]


def test_downloads_not_audited_write_no_event(logged_server: Callable[..., Any]) -> None:
    with logged_server() as server:
        assert httpx.get(f"{server.url}/numbers", params={"rows": 10}, timeout=10).status_code == 200
        assert eventually(lambda: any(line["message"] == "download complete" for line in server.logged()))
        assert server.audit_events() == []


@pytest.mark.slow
def test_the_event_carries_the_trace_of_its_request(
    logged_server: Callable[..., Any], reader: Headers, fake_apm: FakeApmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written in a Flask worker thread as the stream ends, the event still carries the request's trace."""
    for name, value in {"CLOUD_PROVIDER": "none", "CENTRAL_CONFIG": "false", "METRICS_INTERVAL": "0s"}.items():
        monkeypatch.setenv(f"ELASTIC_APM_{name}", value)
    try:
        with logged_server(elastic_apm_server_url=fake_apm.url) as server:  # its lifespan's end flushes the agent
            response = httpx.get(f"{server.url}/audited-numbers", params={"rows": 10}, headers=reader, timeout=10)
            event = server.the_audit_event()
    finally:
        elasticapm.uninstrument()
    (transaction,) = [t for t in fake_apm.of_kind("transaction") if t["name"] == "GET /audited-numbers"]
    assert event["trace"]["id"] == transaction["trace_id"]
    assert event["transaction"]["id"] == transaction["id"]
    assert event["http"]["request"]["id"] == response.headers["x-request-id"]


def test_an_access_in_a_block_is_complete_failed_or_refused(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(settings_for_tests(FixtureSettings, database_url="sqlite://"))
    caller = Caller(object_id=CALLER["oid"], roles=[], scopes=["Fixture.Read"], app_id=CALLER["azp"])
    access = AuditedAccess("notes-count", caller, {"asked": {"all": True}})
    with audited(access) as tally:
        tally.rows = 3
    with pytest.raises(ZeroDivisionError), audited(access, refused=(LookupError,)):
        _ = 1 / 0
    with pytest.raises(KeyError), audited(access, refused=(LookupError,)):
        raise KeyError("no such name")
    structlog.get_logger("test").info("not an audit event")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    complete, failed, refused = [line for line in lines if line["log"]["logger"] == "servicekit.audit"]
    assert refused["audit"]["outcome"] == "refused"
    assert refused["event"]["outcome"] == "failure"
    assert complete["audit"] == {"asked": {"all": True}, "outcome": "complete", "rows": 3, "bytes": None}
    assert failed["audit"] == {"asked": {"all": True}, "outcome": "failed", "rows": None, "bytes": None}
    assert failed["user"] == {"id": CALLER["oid"], "app_id": CALLER["azp"], "name": None}


def test_the_audit_trail_is_written_whatever_the_log_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(settings_for_tests(FixtureSettings, database_url="sqlite://", log_level="ERROR"))
    caller = Caller(object_id=CALLER["oid"], roles=[], scopes=["Fixture.Read"], app_id=CALLER["azp"])
    with audited(AuditedAccess("notes-count", caller)) as tally:
        tally.rows = 1
    structlog.get_logger("test").info("an ordinary line, below ERROR")
    loggers = [json.loads(line)["log"]["logger"] for line in capsys.readouterr().out.splitlines()]
    assert loggers == ["servicekit.audit"]


def test_the_audit_trail_has_a_handler_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever quiets the root's handler (a level, a filter, another service's logging set-up) leaves the
    audit trail alone, and it is written once, not again through the root."""
    configure_logging(settings_for_tests(FixtureSettings, database_url="sqlite://", log_level="ERROR"))
    (root_handler,) = logging.getLogger().handlers
    root_handler.setLevel(logging.CRITICAL)
    root_handler.addFilter(lambda _record: False)
    caller = Caller(object_id=CALLER["oid"], roles=[], scopes=["Fixture.Read"], app_id=CALLER["azp"])
    with audited(AuditedAccess("notes-count", caller)) as tally:
        tally.rows = 2
    structlog.get_logger("test").critical("dropped by the root's filter")
    (line,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (line["log"]["logger"], line["audit"]["rows"]) == ("servicekit.audit", 2)


def test_the_access_log_names_the_route_template(logged_server: Callable[..., Any], reader: Headers) -> None:
    """On uvicorn, whose scopes carry no `extensions` of their own for Connexion's routing to write into."""
    with logged_server() as server:
        assert httpx.get(f"{server.url}/notes/7", headers=reader, timeout=10).status_code == 200
        assert httpx.get(f"{server.url}/notes/7", timeout=10).status_code == 401
        assert httpx.get(f"{server.url}/no-such-thing", timeout=10).status_code == 404
        assert eventually(lambda: len(server.access_lines()) == 3)
    routes = [(line["url"]["path"], line["http"]["route"]) for line in server.access_lines()]
    assert routes == [("/notes/7", "/notes/{note_id}"), ("/notes/7", "/notes/{note_id}"), ("/no-such-thing", None)]


@pytest.mark.slow
def test_bytes_are_what_the_client_received_not_what_was_sent(
    logged_server: Callable[..., Any], reader: Headers
) -> None:
    """A client that reads 300 bytes, lets the server fill every buffer it can, then hangs up: the event
    counts at most the chunk its TCP had acknowledged part of, not the megabytes handed to the network."""
    with logged_server() as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.socket() as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            client.connect((host, int(port)))
            headers = "".join(f"{name}: {value}\r\n" for name, value in (reader | IDENTITY).items())
            client.sendall(f"GET /audited-numbers?rows={ROWS} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
            assert len(client.recv(300)) == 300
            time.sleep(1)  # the server hands over what its buffers take
        event = server.the_audit_event()
        access = server.the_access_line()
    handed = access["http"]["response"]["body"]["bytes"]
    assert event["audit"]["outcome"] == "abandoned"
    # The kernel holds up to twice RECEIVE_BUFFER for the client: those bytes, to the end of their chunk.
    assert 0 < event["audit"]["bytes"] <= 2 * RECEIVE_BUFFER + CHUNK_BYTES
    assert event["audit"]["bytes"] < handed  # 4.5 MB on this machine's loopback
