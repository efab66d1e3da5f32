"""The audit trail of mailing lists (personal data, UK GDPR), on a real uvicorn: each download and each
summary writes one audit event naming the caller, the filters asked for, the rows and bytes handed over,
how it ended, its request id and its trace."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import elasticapm
import httpx
import pytest
from sqlalchemy import Connection, create_engine, func, select, update

from app import MIGRATIONS
from app.data_queries import CsvPieces, mailing_list_pieces
from app.data_types import ExportFilters
from app.mailing_lists import DOWNLOAD
from app.models import Premises
from config import PROJECT_ROOT
from servicekit import Database
from servicekit.audit import AuditEvent, Outcome
from servicekit.audit_store import AuditStore
from servicekit.testing import (
    FakeApmServer,
    FakeEntra,
    ServiceProcess,
    environment_without,
    slow_reader,
    terminate_queries,
)
from tests.conftest import demo_database, seed

BIG_PREMISES = 200_000  # about 20 MB of CSV: far more than the buffers between database and client hold
CALLER = {"oid": "7e6d5c4b-0000-4000-8000-00000000d1a1", "azp": "marketing-tool", "name": "Morgan Marketing"}
FILTERS = {"communities": 'Winson,"Ashton Keynes, Wiltshire"', "segments": "S2,S1", "business": "false"}
Headers = dict[str, str]


@pytest.fixture(scope="module")
def big_database_url(server_url: str, database_prefix: str) -> Iterator[str]:
    with demo_database(server_url, BIG_PREMISES, database_prefix) as url:
        yield url


@pytest.fixture
def marketing(auth_headers: Callable[..., Headers]) -> Headers:
    return auth_headers(roles=["Directmail.Read"], **CALLER)


@pytest.mark.slow
def test_a_download_writes_one_event_with_the_caller_the_filters_and_the_rows(
    logged_server: Callable[..., Any], marketing: Headers, fake_apm: FakeApmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"CLOUD_PROVIDER": "none", "CENTRAL_CONFIG": "false", "METRICS_INTERVAL": "0s"}.items():
        monkeypatch.setenv(f"ELASTIC_APM_{name}", value)
    headers = marketing | {"Accept-Encoding": "identity"}
    try:
        with logged_server(elastic_apm_server_url=fake_apm.url) as server:  # its lifespan's end flushes the agent
            response = httpx.get(
                f"{server.url}/directmail-csv", params=FILTERS | {"bom": "true"}, headers=headers, timeout=30
            )
            assert response.status_code == 200
            event = server.the_audit_event()
    finally:
        elasticapm.uninstrument()

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {row["community"] for row in rows} == {"Winson", "Ashton Keynes, Wiltshire"}
    assert event["event"]["action"] == "mailing-list-download"
    assert event["event"]["kind"] == "event"
    assert event["user"] == {"id": CALLER["oid"], "app_id": CALLER["azp"], "name": CALLER["name"]}
    assert event["audit"] == {
        "filters": {"communities": ["Winson", "Ashton Keynes, Wiltshire"], "segments": ["S1", "S2"], "business": False},
        "outcome": "complete",
        "rows": len(rows),
        "bytes": len(response.content),
    }
    assert event["http"]["request"]["id"] == response.headers["x-request-id"]
    (transaction,) = [t for t in fake_apm.of_kind("transaction") if t["name"] == "GET /directmail-csv"]
    assert event["trace"]["id"] == transaction["trace_id"]
    assert marketing["Authorization"].removeprefix("Bearer ") not in json.dumps(event)


def test_a_summary_writes_one_event_with_its_total_as_rows(
    logged_server: Callable[..., Any], marketing: Headers
) -> None:
    with logged_server() as server:
        response = httpx.get(f"{server.url}/directmail-summary", params={"rfs": "true"}, headers=marketing, timeout=10)
        assert response.status_code == 200
        event = server.the_audit_event()
    assert event["event"]["action"] == "mailing-list-summary"
    assert event["user"]["id"] == CALLER["oid"]
    assert event["audit"] == {
        "filters": {"rfs": True},
        "outcome": "complete",
        "rows": response.json()["total"],
        "bytes": None,
    }
    assert event["http"]["request"]["id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("path", ["/directmail-csv", "/directmail-summary"])
def test_an_unknown_community_is_a_refused_access(
    logged_server: Callable[..., Any], marketing: Headers, path: str
) -> None:
    """Someone asking for a community that does not exist is recorded, though they are given nothing."""
    with logged_server() as server:
        response = httpx.get(f"{server.url}{path}", params={"communities": "Atlantis"}, headers=marketing, timeout=10)
        assert response.status_code == 400
        event = server.the_audit_event()
    assert event["audit"] == {
        "filters": {"communities": ["Atlantis"]},
        "outcome": "refused",
        "rows": None,
        "bytes": None,
    }
    assert event["event"]["outcome"] == "failure"
    assert event["user"]["id"] == CALLER["oid"]


def test_a_head_request_for_the_summary_is_abandoned(logged_server: Callable[..., Any], marketing: Headers) -> None:
    with logged_server() as server:
        assert httpx.head(f"{server.url}/directmail-summary", headers=marketing, timeout=10).status_code == 200
        event = server.the_audit_event()
    assert event["audit"] == {"filters": {}, "outcome": "abandoned", "rows": None, "bytes": None}


def test_a_summary_whose_query_fails_is_a_failed_access(logged_server: Callable[..., Any], marketing: Headers) -> None:
    with logged_server(database_statement_timeout_seconds=0.001) as server:  # every statement is cancelled
        response = httpx.get(f"{server.url}/directmail-summary", params={"bduk": "true"}, headers=marketing, timeout=10)
        assert response.status_code == 504
        event = server.the_audit_event()
    assert event["audit"] == {"filters": {"bduk": True}, "outcome": "failed", "rows": None, "bytes": None}
    assert event["event"]["outcome"] == "failure"


@pytest.mark.slow
def test_a_hung_up_download_writes_an_abandoned_event(
    logged_server: Callable[..., Any], marketing: Headers, big_database_url: str
) -> None:
    with logged_server(database_url=big_database_url) as server:
        with (
            slow_reader(headers=marketing | {"Accept-Encoding": "identity"}) as client,
            client.stream("GET", f"{server.url}/directmail-csv") as response,
        ):
            next(response.iter_raw())
        event = server.the_audit_event()
    assert event["audit"]["outcome"] == "abandoned"
    assert event["audit"]["filters"] == {}
    assert 0 < event["audit"]["bytes"] < BIG_PREMISES * 50
    assert event["http"]["request"]["id"] == response.headers["x-request-id"]


@pytest.mark.slow
def test_a_download_broken_by_the_database_writes_a_failed_event(
    logged_server: Callable[..., Any], marketing: Headers, big_database_url: str
) -> None:
    with logged_server(database_url=big_database_url) as server:
        with (
            slow_reader(headers=marketing | {"Accept-Encoding": "identity"}) as client,
            client.stream("GET", f"{server.url}/directmail-csv") as response,
        ):
            chunks = response.iter_raw()
            next(chunks)
            terminate_queries(big_database_url, "COPY")
            with pytest.raises(httpx.RemoteProtocolError):
                for _ in chunks:
                    pass
        event = server.the_audit_event()
    assert event["audit"]["outcome"] == "failed"
    assert event["event"]["outcome"] == "failure"
    assert event["user"]["id"] == CALLER["oid"]


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_the_row_count_comes_from_the_database_not_the_newlines(
    engine: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if engine == "sqlite":
        database_url = f"sqlite:///{tmp_path_factory.mktemp('embedded') / 'directmail.sqlite3'}"
        MIGRATIONS.upgrade(database_url)
        seed(database_url, 50)
    database = create_engine(database_url)
    try:
        with database.connect() as connection:  # never committed
            give_an_address_two_lines(connection)
            body, count = drained(mailing_list_pieces(connection, ExportFilters()))
    finally:
        database.dispose()
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert count == len(rows) < body.count(b"\n") - 1
    assert any("\n" in row["address_line_2"] for row in rows)


def give_an_address_two_lines(connection: Connection) -> None:
    first = select(func.min(Premises.uprn)).scalar_subquery()
    connection.execute(update(Premises).where(Premises.uprn == first).values(address_line_2="Flat 1\nThe Old Mill"))


def drained(pieces: CsvPieces) -> tuple[bytes, int]:
    """The pieces' bytes, and the row count they return at the end."""
    body = bytearray()
    try:
        while True:
            body += next(pieces)
    except StopIteration as end:
        return bytes(body), end.value


@pytest.mark.slow
def test_at_log_level_error_every_access_leaves_an_event_that_run_py_audit_finds(
    server_url: str, database_prefix: str, fake_entra: FakeEntra, marketing: Headers
) -> None:
    since = dt.datetime.now(dt.UTC)
    with demo_database(server_url, 50, database_prefix) as url:
        environment = service_environment(url, fake_entra) | {"LOG_LEVEL": "ERROR"}
        service = ServiceProcess([sys.executable, "run.py", "serve"], cwd=PROJECT_ROOT, env=environment)
        try:
            service.wait_until_live()
            asked = [
                ("/directmail-csv", {"rfs": "true"}),  # no community named: every community's premises
                ("/directmail-summary", {"communities": "Winson"}),
                ("/directmail-summary", {"communities": "Bibury"}),  # not Winson's
                ("/directmail-csv", {"communities": "Atlantis,Winson"}),  # refused
            ]
            responses = [
                httpx.get(f"{service.url}{path}", params=p, headers=marketing, timeout=30) for path, p in asked
            ]
        finally:
            output = service.stop()
        assert [response.status_code for response in responses] == [200, 200, 200, 400]
        logged = [line for line in log_lines(output) if line["log"]["logger"] == "servicekit.audit"]
        assert len(logged) == 4
        assert {line["log.level"] for line in log_lines(output)} <= {"info", "error"}  # the audit trail's info

        found = audit_command(
            environment, "--community", "Winson", "--since", since.isoformat(), "--until", "2099-12-31"
        )
    assert found.returncode == 0, found.stderr
    events = [json.loads(line) for line in found.stdout.splitlines()]
    assert [(event["action"], event["outcome"], event["details"]) for event in events] == [
        ("mailing-list-download", "complete", {"filters": {"rfs": True}}),
        ("mailing-list-summary", "complete", {"filters": {"communities": ["Winson"]}}),
        ("mailing-list-download", "refused", {"filters": {"communities": ["Atlantis", "Winson"]}}),
    ]
    ids = [response.headers["x-request-id"] for response in responses]
    assert [event["request_id"] for event in events] == [ids[0], ids[1], ids[3]]
    assert all(event["user_id"] == CALLER["oid"] and event["user_name"] == CALLER["name"] for event in events)
    assert events[0]["rows"] > 0
    assert events[0]["bytes"] == len(responses[0].content)


def service_environment(database_url: str, entra: FakeEntra) -> dict[str, str]:
    return environment_without("ELASTIC_APM_") | {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        **{name.upper(): str(value) for name, value in entra.trusted_by().items()},
    }


def audit_command(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python run.py audit ... --json`, as an auditor runs it."""
    return subprocess.run(
        [sys.executable, "run.py", "audit", *arguments, "--json"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def log_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_run_py_audit_answers_on_the_embedded_sqlite_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'directmail.sqlite3'}"
    MIGRATIONS.upgrade(url)
    database = Database(url, MIGRATIONS, timeout_seconds=2, application_name="directmail-tests")
    store = AuditStore(database, retention_days=400)
    day = dt.datetime(2026, 11, 12, 10, 41, tzinfo=dt.UTC)
    for at, communities, request_id in [
        (day - dt.timedelta(days=30), ["Winson"], "before-the-dates"),
        (day, ["Winson", "Bibury"], "named-it"),
        (day + dt.timedelta(hours=1), ["Bibury"], "named-another"),
        (day + dt.timedelta(hours=2), None, "the-whole-list"),
    ]:
        filters = {"communities": communities} if communities else {}
        store.keep(stored_event(at, {"filters": filters}, request_id))
    store.close()
    database.dispose()
    environment = environment_without("ELASTIC_APM_", "DATABASE_") | {"ENVIRONMENT": "test", "DATABASE_URL": url}
    found = audit_command(environment, "--community", "Winson", "--since", "2026-11-01", "--until", "2026-11-30")
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["request_id"] for line in found.stdout.splitlines()] == ["named-it", "the-whole-list"]


def stored_event(at: dt.datetime, details: dict[str, Any], request_id: str) -> AuditEvent:
    return AuditEvent(
        at=at,
        action=DOWNLOAD,
        outcome=Outcome.COMPLETE,
        user_id=CALLER["oid"],
        user_name=CALLER["name"],
        app_id=CALLER["azp"],
        details=details,
        rows=1,
        bytes=100,
        request_id=request_id,
        caller_request_id=None,
        trace_id=None,
    )
