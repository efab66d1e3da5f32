"""DATABASE_READ_URL: the downloads, summaries and /communities read from a real streaming replica of the
test server (scripts/test_replica.sh starts one), reached through a link the tests can cut as a lost
replica host would be; writes stay on the primary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, make_url
from starlette.testclient import TestClient

from app import MIGRATIONS, create_app
from app.models import Community
from config import Settings
from servicekit import Database
from servicekit.testing import SwitchableLink, assert_problem, on_server, replayed

CSV = "/directmail-csv"
SUMMARY = "/directmail-summary"


@pytest.fixture
def replica_link(replica_server_url: str) -> Iterator[SwitchableLink]:
    url = make_url(replica_server_url)
    link = SwitchableLink(url.host or "127.0.0.1", url.port or 5432)
    yield link
    link.close()


@pytest.fixture
def read_url(database_url: str, replica_server_url: str, replica_link: SwitchableLink) -> str:
    """The run's database on the replica, through the link."""
    assert replayed(database_url, replica_server_url), "the replica did not catch up with the primary"
    through_link = make_url(replica_server_url).set(host="127.0.0.1", port=replica_link.port)
    return on_server(database_url, through_link.render_as_string(hide_password=False))


@pytest.fixture
def replica_client(make_settings, read_url: str) -> Iterator[TestClient]:
    settings: Settings = make_settings(database_read_url=read_url)
    with create_app(settings).test_client() as client:
        yield client


def test_reads_come_from_the_replica_and_writes_reach_it_through_the_primary(
    replica_client: TestClient, database_url: str, replica_server_url: str, staff: dict[str, str]
) -> None:
    primary = Database(database_url, MIGRATIONS, timeout_seconds=5, application_name="directmail-tests")
    try:
        with primary.session() as session:
            session.add(Community(name="Replica Green", salesforce_id="a0RREPLICA1", rfs=True))
        assert replayed(database_url, replica_server_url)
        listed = replica_client.get("/communities", headers=staff)
        assert listed.status_code == 200
        assert "Replica Green" in [community["name"] for community in listed.json()]
    finally:
        with primary.session() as session:
            session.execute(delete(Community).where(Community.salesforce_id == "a0RREPLICA1"))
        primary.dispose()


def test_a_download_from_the_replica_is_the_primarys_file(
    replica_client: TestClient, client: TestClient, staff: dict[str, str]
) -> None:
    from_replica = replica_client.get(CSV, headers=staff)
    assert from_replica.status_code == 200
    assert from_replica.content == client.get(CSV, headers=staff).content
    summary = replica_client.get(SUMMARY, headers=staff).json()
    assert from_replica.text.count("\n") - 1 == summary["total"]


@pytest.mark.parametrize("failure", ["cut", "hang"])
def test_while_the_replica_is_down_or_hung_its_reads_are_503_and_the_rest_answers(
    failure: str, replica_client: TestClient, replica_link: SwitchableLink, staff: dict[str, str]
) -> None:
    ready = replica_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["read_replica_lag_seconds"] >= 0
    assert replica_client.get(SUMMARY, headers=staff).status_code == 200

    getattr(replica_link, failure)()
    for path in (SUMMARY, "/communities", CSV):
        refused = replica_client.get(path, headers=staff)
        assert_problem(refused, 503)
        assert refused.json()["detail"] == "The database is unavailable; nothing was changed. Try again shortly."
        assert int(refused.headers["Retry-After"]) > 0
    # Ready all the same (every pod sees the same replica), so that the ingress keeps sending what
    # needs no replica, and our 503 answers what does.
    readiness = replica_client.get("/readyz")
    assert readiness.status_code == 200
    assert readiness.json()["database"] == "ok"
    assert readiness.json()["read_replica"] == "unavailable"
    assert_answered_without_a_database(replica_client, staff)

    replica_link.restore()
    assert replica_client.get("/readyz").json()["read_replica"] == "ok"
    assert replica_client.get(SUMMARY, headers=staff).status_code == 200


@pytest.mark.parametrize("failure", ["cut", "hang"])
def test_while_the_primary_is_down_or_hung_what_needs_no_database_answers(
    failure: str, make_settings, database_url: str, staff: dict[str, str]
) -> None:
    url = make_url(database_url)
    link = SwitchableLink(url.host or "127.0.0.1", url.port or 5432)
    through_link = url.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
    try:
        settings = make_settings(database_url=through_link, database_timeout_seconds=1)
        with create_app(settings).test_client() as client:
            assert client.get(SUMMARY, headers=staff).status_code == 200
            getattr(link, failure)()
            assert_problem(client.get(SUMMARY, headers=staff), 503)
            readiness = client.get("/readyz")
            assert readiness.status_code == 200
            assert readiness.json() == {"status": "ok", "database": "unavailable"}
            assert_answered_without_a_database(client, staff)
    finally:
        link.close()


def assert_answered_without_a_database(client: TestClient, staff: dict[str, str]) -> None:
    assert client.get("/me", headers=staff).status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/ui/").status_code == 200
    assert client.get("/healthz").status_code == 200
