"""The audit trail in the database (servicekit.audit_store): each event logged is also a row of
`audit_events`, written off the request's threads; a database that refuses it loses it from the table
only; events past their retention are deleted; `run.py audit` prints them."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, insert, select

from servicekit.audit import AuditEvent, Outcome
from servicekit.audit_store import AuditQuery, AuditStore, audit_events_table, stored_events
from servicekit.database import Database
from servicekit.testing import environment_without, eventually, temporary_database
from tests.fixture_service import MIGRATIONS

KIT_ROOT = Path(__file__).parents[1]
CALLER = {"oid": "5e4d3c2b-0000-4000-8000-00000000a0d2", "azp": "reporting-app", "name": "Rhys Reporter"}
Headers = dict[str, str]


@pytest.fixture
def reader(auth_headers: Callable[..., Headers]) -> Headers:
    return auth_headers(**CALLER)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url, MIGRATIONS, timeout_seconds=2, application_name="audit-store-tests")
    yield database
    database.dispose()


def stored(database: Database, request_id: str) -> list[AuditEvent]:
    return [event for event in stored_events(database, AuditQuery()) if event.request_id == request_id]


def test_an_event_logged_is_also_a_row_of_the_table(
    logged_server: Callable[..., Any], reader: Headers, database: Database
) -> None:
    headers = reader | {"X-Request-ID": "callers-own-id", "Accept-Encoding": "identity"}
    with logged_server() as server:
        response = httpx.get(f"{server.url}/audited-numbers", params={"rows": 321}, headers=headers, timeout=10)
        logged = server.the_audit_event()
    request_id = response.headers["x-request-id"]
    (row,) = stored(database, request_id)  # the server's lifespan has ended: its queue is written
    assert row.action == "numbers-download"
    assert row.outcome is Outcome.COMPLETE
    assert (row.user_id, row.user_name, row.app_id) == (CALLER["oid"], CALLER["name"], CALLER["azp"])
    assert row.details == {"asked": {"rows": 321}}
    assert (row.rows, row.bytes) == (321, len(response.content))
    assert (row.request_id, row.caller_request_id) == (request_id, "callers-own-id")
    assert abs(row.at - dt.datetime.fromisoformat(logged["@timestamp"])) < dt.timedelta(seconds=1)


def test_a_database_that_refuses_the_event_loses_it_from_the_table_only(
    logged_server: Callable[..., Any], reader: Headers, server_url: str
) -> None:
    """The table is missing here: the download is still served, its event is in the log, and the failure
    is logged without the SQL or its values."""
    with temporary_database(server_url) as url:
        MIGRATIONS.upgrade(url, "0001")
        with logged_server(database_url=url) as server:
            response = httpx.get(f"{server.url}/audited-numbers", params={"rows": 5}, headers=reader, timeout=10)
            assert response.status_code == 200
            assert server.the_audit_event()["audit"]["outcome"] == "complete"
            assert eventually(lambda: any(line["message"].startswith("audit events not") for line in server.logged()))
        (failure,) = [line for line in server.logged() if line["message"].startswith("audit events not stored")]
    assert failure["log.level"] == "error"
    assert failure["error"] == "UndefinedTable"
    assert failure["request_ids"] == [response.headers["x-request-id"]]
    assert CALLER["name"] not in json.dumps(failure)
    assert "INSERT" not in json.dumps(failure)


def test_events_past_their_retention_are_deleted_when_the_store_starts(database: Database) -> None:
    table = audit_events_table(MetaData())
    now = dt.datetime.now(dt.UTC)
    ages = {"old": now - dt.timedelta(days=32), "young": now - dt.timedelta(days=30)}
    with database.engine.begin() as connection:
        for request_id, at in ages.items():
            connection.execute(
                insert(table).values(
                    at=at, action="retention-test", outcome="complete", details={}, request_id=request_id
                )
            )
    store = AuditStore(database, retention_days=31)
    store.start()
    store.close()
    with database.engine.connect() as connection:
        kept = connection.scalars(select(table.c.request_id).where(table.c.action == "retention-test")).all()
    assert kept == ["young"]


def test_run_py_audit_prints_one_line_an_event_for_the_moments_asked(
    logged_server: Callable[..., Any], reader: Headers, database_url: str
) -> None:
    since = dt.datetime.now(dt.UTC)
    with logged_server() as server:
        response = httpx.get(f"{server.url}/audited-numbers", params={"rows": 3}, headers=reader, timeout=10)
        server.the_audit_event()
    environment = environment_without("ELASTIC_APM_") | {"ENVIRONMENT": "test", "DATABASE_URL": database_url}

    def audit(*arguments: str) -> list[str]:
        """What `run.py audit --user <the caller> ...` prints, without its log lines."""
        command = [sys.executable, "-m", "tests.fixture_service", "audit", "--user", CALLER["name"], *arguments]
        printed = subprocess.run(
            command, cwd=KIT_ROOT, env=environment, capture_output=True, text=True, timeout=60, check=True
        )
        return [line for line in printed.stdout.splitlines() if not line.startswith("{")]

    lines = audit("--since", since.isoformat(), "--action", "numbers-download")
    (line,) = [line for line in lines if response.headers["x-request-id"] in line]
    assert line.startswith(f"{since:%Y-%m-%d}T")
    assert (
        f" numbers-download complete by {CALLER['name']} ({CALLER['oid']}, via {CALLER['azp']}) rows=3 bytes=6"
        ' {"asked": {"rows": 3}} request=' in line
    )
    assert audit("--until", (since - dt.timedelta(days=1)).date().isoformat()) == []
