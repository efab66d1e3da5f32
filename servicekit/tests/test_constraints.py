"""A write that breaks a database constraint is a problem naming the constraint, never the row's values,
with nothing of the request written; the service may choose the status per constraint or SQLSTATE."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from servicekit import Database
from servicekit.testing import assert_problem
from tests.fixture_service import FixtureSettings, create_app
from tests.notices import a_notice

# A value PostgreSQL's DETAIL would quote back, were it let through.
SECRET = "Llanfair-1234 private"


def notes(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(text("SELECT count(*) FROM notes")) or 0)


def written_twice(client: TestClient, first: dict[str, Any], second: dict[str, Any]) -> Any:
    assert client.post("/notices", json=first).status_code == 201
    return client.post("/notices", json=second)


def test_a_unique_violation_is_409_naming_the_constraint_not_the_values(
    client: TestClient, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    notice = a_notice(title=SECRET)
    notes_before = notes(database)
    again = a_notice(reference=notice["reference"], note=SECRET, title=SECRET)
    body = assert_problem(written_twice(client, notice, again), 409)
    assert body["constraint"] == "notices_reference_key"
    assert "notices_reference_key" in body["detail"]
    assert notes(database) == notes_before  # the note written before the violation was rolled back
    assert "notices_reference_key" in caplog.text  # the refusal's log line, which names the constraint only
    for said in (str(body), caplog.text):
        assert SECRET not in said
        assert notice["reference"] not in said


def test_an_exclusion_violation_is_409(client: TestClient) -> None:
    notice = a_notice()
    overlapping = a_notice(area=notice["area"], starts_at="2026-12-07T11:00:00Z", ends_at="2026-12-07T13:00:00Z")
    body = assert_problem(written_twice(client, notice, overlapping), 409)
    assert body["constraint"] == "notices_one_at_a_time_per_area"


@pytest.mark.parametrize(
    ("fields", "status", "constraint"),
    [
        ({"note_id": 2_000_000_000}, 409, "notices_note_id_fkey"),  # names a note that does not exist
        ({"ends_at": "2026-12-07T09:00:00Z"}, 422, "notices_end_after_start"),
    ],
)
def test_other_violations_answer_their_default_status(
    client: TestClient, fields: dict[str, Any], status: int, constraint: str
) -> None:
    body = assert_problem(client.post("/notices", json=a_notice(**fields)), status)
    assert body["constraint"] == constraint


def test_a_missing_value_the_table_needs_is_422(client: TestClient) -> None:
    notice = a_notice()
    del notice["title"]
    body = assert_problem(client.post("/notices", json=notice), 422)
    assert body["constraint"] == "unnamed"  # PostgreSQL names no constraint for NOT NULL


@pytest.fixture
def remapped_client(settings: FixtureSettings) -> Iterator[TestClient]:
    app = create_app(settings, constraints={"notices_one_at_a_time_per_area": 422, "23514": 400})
    with app.test_client() as client:
        yield client
    database = app.parts.find(Database)
    assert database is not None
    database.dispose()


def test_a_service_chooses_the_status_by_constraint_or_sqlstate(remapped_client: TestClient) -> None:
    notice = a_notice()
    overlapping = a_notice(area=notice["area"])
    assert_problem(written_twice(remapped_client, notice, overlapping), 422)
    assert_problem(remapped_client.post("/notices", json=a_notice(ends_at="2026-12-07T09:00:00Z")), 400)
    assert_problem(remapped_client.post("/notices", json={**notice, "area": notice["area"] + 1}), 409)
