"""The communities synced from a Salesforce org: a fake one on loopback (tests/fake_salesforce.py), paging,
expiring sessions, limiting and failing as the real one does; the sync applies what it read in one
transaction, or nothing at all."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import stamina
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app import MIGRATIONS
from app.community_sync import (
    SYNC_LOCK,
    SYNCED_AT_HEADER,
    SyncRefused,
    apply_communities,
    salesforce_communities,
    sync_communities,
)
from app.data_queries import community_names, mailing_list_pieces
from app.data_types import ExportFilters
from app.models import Community, Premises
from app.salesforce import ATTEMPTS, SalesforceClient, SalesforceError
from config import PROJECT_ROOT, Settings
from servicekit import Database
from servicekit.testing import FakeApmServer, environment_without, eventually
from servicekit.testing.loopback import LoopbackHandler, LoopbackServer
from tests.conftest import demo_database
from tests.fake_salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce, community_record
from tests.table_health import table_health

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


def sync(settings: Settings, connection: Connection, *, allow_shrink: bool = False) -> list[str]:
    """The sync as the command runs it (every page read, then applied), in the test's transaction."""
    with SalesforceClient(settings) as client:
        records = salesforce_communities(settings, client)
    limit = None if allow_shrink else settings.salesforce_sync_max_shrink_percent
    return apply_communities(connection, records, max_shrink_percent=limit).lines()


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
    with pytest.raises(SalesforceError, match=r"Salesforce answered 500: UNKNOWN_EXCEPTION.*gave up after 4 attempts"):
        sync(salesforce_settings, db_connection)
    assert snapshot(db_connection) == before


@pytest.mark.parametrize(
    ("field", "value", "refusal"),
    [
        ("Name", "", r"breaks the API's rule for a community name \(minLength 1\)"),
        ("Name", "Bib\nury", "breaks the API's rule for a community name"),
        ("Name", "B" * 201, r"\(maxLength 200\), so no one could ask for it"),
        ("Name", "Bib\x7fury", r"\(pattern"),
        ("Name", "Bib\x85ury", r"\(pattern"),
        ("Name", 42, r"\(type string\)"),
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
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok", "salesforce_synced_at": None}
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
    server_url: str, database_prefix: str, salesforce: FakeSalesforce, fake_apm: FakeApmServer
) -> None:
    with demo_database(server_url, 50, database_prefix) as url:
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
        assert (failed.returncode, failed.stderr.splitlines()) == (
            1,
            [
                "run.py: sync-salesforce changed nothing: Salesforce answered 503: SERVER_UNAVAILABLE: Server"
                " unavailable (gave up after 4 attempts)"
            ],
        )
        assert CLIENT_SECRET not in failed.stdout + failed.stderr + first.stdout + first.stderr

        everyone, salesforce.records = salesforce.records, []
        emptied = sync_command(environment)
        assert emptied.returncode == 1
        assert emptied.stderr.splitlines() == [
            f"run.py: sync-salesforce changed nothing: Salesforce lists 0 communities, which would take {len(everyone)}"
            f" of the {len(everyone)} live ones out of every list (more than SALESFORCE_SYNC_MAX_SHRINK_PERCENT, 20%);"
            " if Salesforce is right, run again with --allow-shrink"
        ]
        salesforce.records = everyone

    unmigrated = sync_command(environment | {"DATABASE_URL": server_url})
    assert (unmigrated.returncode, unmigrated.stderr.splitlines()) == (
        1,
        ['run.py: sync-salesforce changed nothing: the database refused it: relation "communities" does not exist'],
    )

    assert eventually(lambda: len(fake_apm.of_kind("transaction")) >= 5, seconds=15)
    runs = fake_apm.of_kind("transaction")
    assert {run["name"] for run in runs} == {"run.py sync-salesforce"}
    assert sorted(run["outcome"] for run in runs) == ["failure", "failure", "failure", "success", "success"]
    calls = {span["name"] for span in fake_apm.of_kind("span") if span["type"] == "external"}
    port = urlsplit(salesforce.url).port
    assert calls == {f"POST 127.0.0.1:{port}", f"GET 127.0.0.1:{port}"}  # the login and the pages
    assert CLIENT_SECRET not in str(fake_apm.of_kind("span"))


def live_names(connection: Connection) -> dict[str, str]:
    """The live communities' names, by Salesforce id."""
    rows = connection.execute(select(Community.salesforce_id, Community.name).where(Community.retired_at.is_(None)))
    return {salesforce_id: name for salesforce_id, name in rows}


def test_an_empty_or_sharply_shrunken_answer_changes_nothing_unless_the_operator_allows_it(
    salesforce: FakeSalesforce, salesforce_settings: Settings, db_connection: Connection
) -> None:
    before, everyone = snapshot(db_connection), list(salesforce.records)
    salesforce.records = []
    with pytest.raises(
        SyncRefused, match=rf"Salesforce lists 0 communities, .* {len(everyone)} of the {len(everyone)}"
    ):
        sync(salesforce_settings, db_connection)
    salesforce.records = everyone[: len(everyone) // 2]
    with pytest.raises(SyncRefused, match=r"more than SALESFORCE_SYNC_MAX_SHRINK_PERCENT, 20%.*--allow-shrink"):
        sync(salesforce_settings, db_connection)
    assert snapshot(db_connection) == before

    salesforce.records = everyone[1:]  # one of many: an ordinary retirement
    assert sync(salesforce_settings, db_connection) == [f"retired: {everyone[0]['Name']}"]
    salesforce.records = everyone[1 : len(everyone) // 2]
    taken_out = sync(salesforce_settings, db_connection, allow_shrink=True)
    assert len(taken_out) == len(everyone) - len(everyone) // 2
    assert all(line.startswith(("retired: ", "deleted: ")) for line in taken_out)
    assert set(live_names(db_connection).values()) == {record["Name"] for record in salesforce.records}


def test_renames_swaps_re_creations_and_a_retired_name_reused_all_apply_and_a_rerun_finds_no_change(
    salesforce: FakeSalesforce, salesforce_settings: Settings, db_connection: Connection
) -> None:
    first, second, third, fourth, fifth, sixth = salesforce.records[:6]
    names = {record["Id"]: record["Name"] for record in salesforce.records}

    # Two communities swap names, and three rename in a chain, each onto the name the next gives up.
    first["Name"], second["Name"] = names[second["Id"]], names[first["Id"]]
    third["Name"], fourth["Name"], fifth["Name"] = names[fourth["Id"]], names[fifth["Id"]], "Fairford (new)"
    assert len(sync(salesforce_settings, db_connection)) == 5
    assert live_names(db_connection) == {record["Id"]: record["Name"] for record in salesforce.records}
    assert sync(salesforce_settings, db_connection) == ["no change"]

    # A community deleted in Salesforce and re-created under its name: a new record, a new id.
    salesforce.records.remove(sixth)
    salesforce.records.append(community_record("a0B8d00000REMADE01", sixth["Name"], sixth["RFS__c"], None))
    assert sorted(sync(salesforce_settings, db_connection)) == [f"added: {sixth['Name']}", f"retired: {sixth['Name']}"]
    assert sync(salesforce_settings, db_connection) == ["no change"]

    # The retired community's name, and another's, taken over by renames.
    first["Name"], second["Name"] = names[sixth["Id"]] + " (old)", fifth["Name"]
    salesforce.records.remove(fifth)
    lines = sync(salesforce_settings, db_connection)
    assert f"retired: {fifth['Name']}" in lines
    assert len(lines) == 3
    assert live_names(db_connection) == {record["Id"]: record["Name"] for record in salesforce.records}
    assert sync(salesforce_settings, db_connection) == ["no change"]


def test_a_community_gone_with_no_premises_is_deleted_and_said_to_be(
    salesforce: FakeSalesforce, salesforce_settings: Settings, db_connection: Connection
) -> None:
    salesforce.records.append(community_record("a0B8d00000EMPTY001", "Nowhere Yet", False, None))
    assert sync(salesforce_settings, db_connection) == ["added: Nowhere Yet"]
    salesforce.records.pop()
    assert sync(salesforce_settings, db_connection) == ["deleted: Nowhere Yet"]
    assert db_connection.scalar(select(Community.id).where(Community.salesforce_id == "a0B8d00000EMPTY001")) is None
    kept = db_connection.scalar(select(Premises.community_id).limit(1))
    assert kept is not None


@pytest.mark.parametrize(
    ("login_faults", "faults", "said"),
    [
        (["html"], [], "Salesforce's answer to the login is not JSON (text/html)"),
        (["a_list"], [], "Salesforce's answer to the login is not a JSON object"),
        (["no_access_token"], [], "Salesforce's answer to the login has no access_token or instance_url"),
        ([], ["html"], "Salesforce's answer to the query is not JSON (text/html)"),
        ([], ["broken_json"], "Salesforce's answer to the query is not JSON (application/json)"),
        ([], ["no_records"], "Salesforce's answer to the query has no list of records"),
        ([], ["no_done"], "Salesforce's answer to the query does not say whether it is done"),
        ([], ["not_done_and_nowhere_next"], "is not done and has no nextRecordsUrl"),
        (
            ["unavailable"] * ATTEMPTS,
            [],
            "Salesforce's login answered 503: SERVER_UNAVAILABLE: Server unavailable (gave up after 4 attempts)",
        ),
    ],
)
def test_an_answer_no_org_gives_changes_nothing_and_says_what_was_wrong(
    salesforce: FakeSalesforce,
    salesforce_settings: Settings,
    db_connection: Connection,
    login_faults: list[str],
    faults: list[str],
    said: str,
) -> None:
    before = snapshot(db_connection)
    salesforce.records.pop()
    salesforce.login_faults, salesforce.faults = login_faults, faults
    with pytest.raises(SalesforceError, match=re.escape(said)) as refused:
        sync(salesforce_settings, db_connection)
    assert "\n" not in str(refused.value)
    assert snapshot(db_connection) == before


def test_a_login_that_fails_or_drops_is_tried_again_like_a_page(
    salesforce: FakeSalesforce, salesforce_settings: Settings, db_connection: Connection
) -> None:
    salesforce.records[0]["RFS__c"] = not salesforce.records[0]["RFS__c"]
    salesforce.login_faults = ["drop", "unavailable", "rate_limit"]
    assert sync(salesforce_settings, db_connection) == [f"changed: {salesforce.records[0]['Name']}"]
    assert not salesforce.login_faults
    assert salesforce.logins == 1


class Elsewhere(LoopbackHandler):
    """Another host, which must never see a request: it would get the session token."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Elsewhere.asked.append(self.path)
        self.reply(200, b'{"done": true, "records": []}')


@pytest.fixture
def elsewhere() -> Iterator[LoopbackServer]:
    Elsewhere.asked = []
    server = LoopbackServer(Elsewhere).start()
    yield server
    server.stop()


@pytest.mark.parametrize("next_url", ["@{host}/services/data/v62.0/query/x", "//{host}/query/x", "http://{host}/x"])
def test_a_next_records_url_is_followed_only_on_the_orgs_host(
    salesforce: FakeSalesforce,
    salesforce_settings: Settings,
    db_connection: Connection,
    elsewhere: LoopbackServer,
    next_url: str,
) -> None:
    before = snapshot(db_connection)
    salesforce.next_records_prefix = next_url.format(host=f"127.0.0.1:{elsewhere.port}")
    with pytest.raises(SalesforceError):
        sync(salesforce_settings, db_connection)
    assert Elsewhere.asked == []
    assert snapshot(db_connection) == before


def test_an_instance_url_on_another_host_is_not_followed(
    salesforce: FakeSalesforce, salesforce_settings: Settings, db_connection: Connection, elsewhere: LoopbackServer
) -> None:
    salesforce.instance_url = elsewhere.url
    with pytest.raises(SalesforceError, match=r"instance_url points away from 127\.0\.0\.1: not followed"):
        sync(salesforce_settings, db_connection)
    assert Elsewhere.asked == []


def test_a_sync_that_changes_names_leaves_communities_vacuumed_and_one_that_changes_nothing_leaves_them_be(
    server_url: str, database_prefix: str, salesforce: FakeSalesforce, salesforce_settings: Settings
) -> None:
    for record in salesforce.records[:20]:
        record["Name"] = f"{record['Name']} (renamed)"
    with demo_database(server_url, 50, database_prefix) as url:
        database = Database(url, MIGRATIONS, timeout_seconds=5, application_name="directmail-tests")
        try:
            seeded = table_health(url, "communities")
            changed = sync_communities(salesforce_settings, database.engine)
            after_change = table_health(url, "communities")
            unchanged = sync_communities(salesforce_settings, database.engine)
            after_no_change = table_health(url, "communities")
        finally:
            database.dispose()
    assert len(changed.changed) == 20
    assert (after_change.dead_rows, after_change.vacuums, after_change.all_visible) == (0, seeded.vacuums + 1, True)
    assert unchanged.lines() == ["no change"]
    assert after_no_change.vacuums == after_change.vacuums
