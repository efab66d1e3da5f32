"""How a request names its communities, both ways the spec gives: one `communities` per name (what every
generated client and Swagger UI send) or one holding a CSV line (what people type). Where a single value
could be read either way, the service picks by the spec's rule and never selects a set nobody asked for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete
from starlette.testclient import TestClient

from app import MIGRATIONS
from app.models import Community
from servicekit import Database

# Names that are two other communities' names joined by a comma: one live, one that Salesforce dropped.
JOINED = "Winson, Bibury"
JOINED_AND_RETIRED = "Bibury, Winson"
SALESFORCE_IDS = ("a0RJOINED001", "a0RJOINED002")


@pytest.fixture(scope="module")
def joined_communities(database_url: str) -> Iterator[None]:
    database = Database(database_url, MIGRATIONS, timeout_seconds=5, application_name="directmail-tests")
    try:
        with database.session() as session:
            session.add(Community(name=JOINED, salesforce_id=SALESFORCE_IDS[0], rfs=True))
            retired = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            session.add(
                Community(name=JOINED_AND_RETIRED, salesforce_id=SALESFORCE_IDS[1], rfs=True, retired_at=retired)
            )
        yield
    finally:
        with database.session() as session:
            session.execute(delete(Community).where(Community.salesforce_id.in_(SALESFORCE_IDS)))
        database.dispose()


def counted(client: TestClient, staff: dict[str, str], communities: Any) -> dict[str, Any]:
    response = client.get("/directmail-summary", params={"communities": communities}, headers=staff)
    assert response.status_code == 200, response.text
    summary: dict[str, Any] = response.json()
    return summary


@pytest.mark.usefixtures("joined_communities")
def test_a_single_value_that_is_a_communitys_name_is_that_community_alone(
    client: TestClient, staff: dict[str, str]
) -> None:
    assert counted(client, staff, JOINED) == {"total": 0, "communities": []}  # it has no premises
    assert counted(client, staff, [JOINED]) == {"total": 0, "communities": []}


@pytest.mark.usefixtures("joined_communities")
@pytest.mark.parametrize("line", ["Winson,Bibury", '"Winson", Bibury', "Winson,  Bibury"])
def test_a_single_value_that_is_no_communitys_name_is_a_csv_line(
    client: TestClient, staff: dict[str, str], line: str
) -> None:
    summary = counted(client, staff, line)
    assert {count["name"] for count in summary["communities"]} == {"Winson", "Bibury"}
    assert summary == counted(client, staff, ["Winson", "Bibury"])


@pytest.mark.usefixtures("joined_communities")
def test_a_name_salesforce_dropped_is_refused_whole_never_read_as_other_communities(
    client: TestClient, staff: dict[str, str]
) -> None:
    response = client.get("/directmail-csv", params={"communities": JOINED_AND_RETIRED}, headers=staff)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"Unknown communities in 'communities': '{JOINED_AND_RETIRED}'")


def test_repeated_each_value_is_one_name_and_never_split(client: TestClient, staff: dict[str, str]) -> None:
    response = client.get("/directmail-summary", params={"communities": ["Winson", "Bibury,Winson"]}, headers=staff)
    assert response.status_code == 400
    assert "Unknown communities in 'communities': 'Bibury,Winson'" in response.json()["detail"]
    (refused,) = response.json()["invalid_params"]
    assert refused["name"] == "communities"
    assert refused["reason"].startswith("unknown: 'Bibury,Winson'")


def test_segments_either_way_give_the_same_file(client: TestClient, staff: dict[str, str]) -> None:
    repeated = client.get("/directmail-csv", params={"segments": ["S1", "S3"]}, headers=staff)
    line = client.get("/directmail-csv", params={"segments": "S1,S3"}, headers=staff)
    assert repeated.status_code == line.status_code == 200
    assert repeated.content == line.content
    assert {row.split(",")[-1] for row in repeated.text.splitlines()[1:]} == {"S1", "S3"}


@pytest.mark.parametrize(
    ("communities", "detail"),
    [
        ('Winson,"Bibury', "Invalid query parameter 'communities': 'Winson,\"Bibury' is not a comma-separated list"),
        ("Winson,,Bibury", "Invalid query parameter 'communities': '' should be non-empty"),
        (["Winson", ""], "Invalid query parameter 'communities': '' should be non-empty"),
        ("Winson,Winsen", "Unknown communities in 'communities': 'Winsen' (did you mean 'Winson'?)"),
    ],
)
def test_a_list_that_cannot_be_read_is_a_400_saying_how_to_write_it(
    client: TestClient, staff: dict[str, str], communities: Any, detail: str
) -> None:
    response = client.get("/directmail-csv", params={"communities": communities}, headers=staff)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith(detail), response.json()["detail"]


def test_a_csv_line_may_be_longer_than_one_name_may(client: TestClient, staff: dict[str, str]) -> None:
    names = [community["name"] for community in client.get("/communities", headers=staff).json()]
    line = ",".join(f'"{name}"' if "," in name else name for name in names)
    assert len(line) > 200  # the rule for one name
    assert counted(client, staff, line) == counted(client, staff, names)
