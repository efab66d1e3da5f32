"""The communities synced from a Salesforce org: a fake one on loopback (tests/fake_salesforce.py), paging,
expiring sessions, limiting and failing as the real one does; the sync applies what it read in one
transaction, or nothing at all."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import stamina
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.community_sync import SYNC_LOCK, SYNCED_AT_HEADER, SyncRefused, sync_communities
from app.data_queries import community_names, mailing_list_pieces
from app.data_types import ExportFilters
from app.models import Community
from app.salesforce import ATTEMPTS, SalesforceClient
from config import PROJECT_ROOT, Settings
from servicekit.testing import FakeApmServer, environment_without, eventually
from tests.conftest import demo_database
from tests.fake_salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce, community_record

pytestmark = pytest.mark.slow

Snapshot = list[tuple[Any, ...]]


@pytest.fixture(autouse=True)
def no_waiting_between_attempts() -> Iterator[None]:
    """The retries as deployed, without their seconds of back-off."""
    stamina.set_testing(True, attempts=ATTEMPTS)  # in this process: the command's own runs wait as deployed
    yield
    stamina.set_testing(False)


def held_records(connection: Connection) -> list[dict[str, Any]]:
    """What Salesforce would hold for the communities the database holds now."""
    rows = connection.execute(select(Community.salesforce_id, Community.name, Community.rfs, Community.rfs_date))
    return [
        community_record(salesforce_id, name, rfs, rfs_date.isoformat() if rfs_date else None)
        for salesforce_id, name, rfs, rfs_date in rows
    ]


def snapshot(connection: Connection) -> Snapshot:
    columns = (Community.salesforce_id, Community.name, Community.rfs, Community.rfs_date, Community.retired_at)
    return [tuple(row) for row in connection.execute(select(*columns).order_by(Community.salesforce_id))]


@pytest.fixture
def salesforce(db_connection: Connection) -> Iterator[FakeSalesforce]:
    fake = FakeSalesforce(held_records(db_connection), page_size=7).start()
    yield fake
    fake.stop()


@pytest.fixture
def salesforce_settings(make_settings: Callable[..., Settings], salesforce: FakeSalesforce) -> Settings:
    return make_settings(
        salesforce_url=salesforce.url, salesforce_client_id=CLIENT_ID, salesforce_client_secret=CLIENT_SECRET
    )


def sync(settings: Settings, connection: Connection) -> list[str]:
    with SalesforceClient(settings) as client:
        return sync_communities(settings, connection, client).lines()


def test_a_sync_adds_changes_and_retires_across_pages_then_finds_no_change(
    salesforce: FakeSalesforce, salesforce_settings: Settings, db_connection: Connection
) -> None:
    renamed, ready, gone = salesforce.records[1:4]
    salesforce.records.remove(gone)
    renamed["Name"] = "Ashton Keynes (Wiltshire)"
    ready["RFS__c"], ready["RFS_Date__c"] = True, "2027-03-01"
    salesforce.records.append(community_record("a0B8d00000NEWONE01", "Llanfair, Môn", False, None))
    old_name = db_connection.scalar(select(Community.name).where(Community.salesforce_id == renamed["Id"]))

    lines = sync(salesforce_settings, db_connection)

    assert sorted(lines) == sorted(
        [
            "added: Llanfair, Môn",
            f"changed: {old_name} -> Ashton Keynes (Wiltshire)",
            f"changed: {ready['Name']}",
            f"retired: {gone['Name']}",
        ]
    )
    assert salesforce.queries == ["SELECT Id, Name, RFS__c, RFS_Date__c FROM Community__c"]
    listed = {record["Id"]: record["Name"] for record in held_records(db_connection)}
    assert listed[gone["Id"]] == gone["Name"]  # kept for its premises ...
    retired = db_connection.scalar(select(Community.retired_at).where(Community.salesforce_id == gone["Id"]))
    assert retired is not None  # ... but retired
    assert sync(salesforce_settings, db_connection) == ["no change"]


def test_a_retired_community_is_in_no_list_and_asking_for_it_is_a_400_naming_it(
    client: TestClient,  # before the database's fixtures: its app closes before the test's connection
    staff: dict[str, str],
    salesforce: FakeSalesforce,
    salesforce_settings: Settings,
    db_connection: Connection,
) -> None:
    gone = salesforce.records.pop(0)
    assert sync(salesforce_settings, db_connection) == [f"retired: {gone['Name']}"]
    assert gone["Name"] not in [community["name"] for community in client.get("/communities", headers=staff).json()]
    quoted = '"' + gone["Name"].replace('"', '""') + '"'
    refused = client.get("/directmail-summary", params={"communities": quoted}, headers=staff)
    assert refused.status_code == 400
    assert gone["Name"] in refused.json()["detail"]


def test_expired_sessions_limits_faults_and_dropped_connections_are_outlasted(
    salesforce: FakeSalesforce, salesforce_settings: Settings, db_connection: Connection
) -> None:
    old_name = salesforce.records[0]["Name"]
    salesforce.records[0]["Name"] = "Bibury-on-Coln"
    # A fault on every other query request, each answered by a retry or a new session.
    salesforce.faults = ["rate_limit", "", "drop", "", "unavailable", "", "expire_session", "", "error_500"]
    assert sync(salesforce_settings, db_connection) == [f"changed: {old_name} -> Bibury-on-Coln"]
    assert salesforce.logins == 2  # once at first, once after the session expired
    assert not salesforce.faults


def test_a_salesforce_that_keeps_failing_changes_nothing(
    salesforce: FakeSalesforce, salesforce_settings: Settings, db_connection: Connection
) -> None:
    before = snapshot(db_connection)
    salesforce.records.pop()
    salesforce.faults = ["error_500"] * ATTEMPTS
    with pytest.raises(SyncRefused, match=r"Salesforce answered 500: UNKNOWN_EXCEPTION.*gave up after 4 attempts"):
        sync(salesforce_settings, db_connection)
    assert snapshot(db_connection) == before


@pytest.mark.parametrize(
    ("field", "value", "refusal"),
    [
        ("Name", "", "is not a community name"),
        ("Name", "Bibury\n", "is not a community name"),
        ("RFS__c", "yes", "is not true or false"),
        ("RFS_Date__c", "01/03/2027", "is not a date"),
        ("Id", "short", "is not a Salesforce id"),
    ],
)
def test_a_malformed_record_changes_nothing_and_is_named(
    salesforce: FakeSalesforce,
    salesforce_settings: Settings,
    db_connection: Connection,
    field: str,
    value: object,
    refusal: str,
) -> None:
    before = snapshot(db_connection)
    salesforce.records[-1][field] = value
    with pytest.raises(SyncRefused, match=refusal):
        sync(salesforce_settings, db_connection)
    assert snapshot(db_connection) == before


def test_a_name_a_spreadsheet_would_run_survives_the_sync_and_leaves_the_csv_neutralised(
    salesforce: FakeSalesforce, salesforce_settings: Settings, db_connection: Connection
) -> None:
    odd = '=HYPERLINK("x") Tŷ-Croes ﬁeld ١٢ 🐑 e\u0301'
    salesforce.records[0]["Name"] = odd
    sync(salesforce_settings, db_connection)
    assert odd in community_names(Session(bind=db_connection))

    # The export as the download runs it, in this test's transaction.
    exported = b"".join(mailing_list_pieces(db_connection, ExportFilters(communities=(odd,))))
    rows = list(csv.DictReader(io.StringIO(exported.decode())))
    assert rows
    assert {row["community"] for row in rows} == {"'" + odd}


def test_one_sync_at_a_time(salesforce_settings: Settings, db_connection: Connection, database: Any) -> None:
    with database.engine.connect() as other, other.begin():
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYNC_LOCK})
        with pytest.raises(SyncRefused, match="another sync is running"):
            sync(salesforce_settings, db_connection)


def test_communities_and_readiness_say_when_the_last_sync_finished(
    client: TestClient, staff: dict[str, str], salesforce_settings: Settings, db_connection: Connection
) -> None:
    assert client.get("/readyz").json() == {"status": "ok", "salesforce_synced_at": None}
    sync(salesforce_settings, db_connection)
    synced_at = dt.datetime.fromisoformat(client.get("/communities", headers=staff).headers[SYNCED_AT_HEADER])
    assert abs(dt.datetime.now(dt.UTC) - synced_at) < dt.timedelta(minutes=1)


def sync_command(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python run.py sync-salesforce` as a CronJob runs it."""
    return subprocess.run(
        [sys.executable, "run.py", "sync-salesforce"],
        cwd=PROJECT_ROOT,
        env=environment_without("SALESFORCE_", "ELASTIC_APM_", "DATABASE_", "AUTH_", "ENVIRONMENT") | environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def printed(completed: subprocess.CompletedProcess[str]) -> list[str]:
    """What the command printed, without its log lines (JSON, on the same stdout)."""
    return [line for line in completed.stdout.splitlines() if not line.startswith("{")]


def test_the_command_syncs_traced_or_fails_with_a_message_and_a_status(
    server_url: str, salesforce: FakeSalesforce, fake_apm: FakeApmServer
) -> None:
    with demo_database(server_url, 50) as url:
        environment = {
            "ENVIRONMENT": "test",
            "DATABASE_URL": url,
            "SALESFORCE_URL": salesforce.url,
            "SALESFORCE_CLIENT_ID": CLIENT_ID,
            "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
            "ELASTIC_APM_SERVER_URL": fake_apm.url,
        }
        salesforce.records[0]["RFS__c"] = not salesforce.records[0]["RFS__c"]
        first = sync_command(environment)
        assert (first.returncode, printed(first)) == (0, [f"changed: {salesforce.records[0]['Name']}"]), first.stderr
        again = sync_command(environment)
        assert (again.returncode, printed(again)) == (0, ["no change"]), again.stderr

        salesforce.faults = ["unavailable"] * ATTEMPTS
        failed = sync_command(environment)
        assert failed.returncode == 1
        assert "sync-salesforce changed nothing: Salesforce answered 503" in failed.stderr
        assert CLIENT_SECRET not in failed.stdout + failed.stderr + first.stdout + first.stderr

    assert eventually(lambda: len(fake_apm.of_kind("transaction")) >= 3, seconds=15)
    runs = fake_apm.of_kind("transaction")
    assert {run["name"] for run in runs} == {"run.py sync-salesforce"}
    assert sorted(run["outcome"] for run in runs) == ["failure", "success", "success"]
    calls = {span["name"] for span in fake_apm.of_kind("span") if span["type"] == "external"}
    port = urlsplit(salesforce.url).port
    assert calls == {f"POST 127.0.0.1:{port}", f"GET 127.0.0.1:{port}"}  # the login and the pages
    assert CLIENT_SECRET not in str(fake_apm.of_kind("span"))
