"""GET /notices-csv: every notice, as CSV under a header line."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, insert
from starlette.testclient import TestClient

from app.models import Notice
from servicekit import Database

Headers = Callable[..., dict[str, str]]

JANUARY = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


@pytest.fixture
def committed_notices(database: Database) -> Iterator[list[int]]:
    """Notices committed for real, deleted after the test: a download reads on a connection of its own,
    which no test's open transaction (`db_session`'s) is visible to."""
    rows = [
        {"title": "Fibre works", "area": "OX29", "starts_at": JANUARY, "published": False},
        {"title": "Cabinet upgrade", "area": "SN16", "starts_at": JANUARY, "published": False},
    ]
    with database.engine.begin() as connection:
        ids = list(connection.scalars(insert(Notice).returning(Notice.id), rows))
    yield ids
    with database.engine.begin() as connection:
        connection.execute(delete(Notice).where(Notice.id.in_(ids)))


def test_the_csv_holds_the_notices_under_a_header(
    client: TestClient, auth_headers: Headers, committed_notices: list[int]
) -> None:
    response = client.get("/notices-csv", headers=auth_headers(roles=["Outages.Read"]))
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="notices.csv"'
    rows = [row for row in csv.DictReader(io.StringIO(response.text)) if int(row["id"]) in committed_notices]
    assert [(row["title"], row["area"]) for row in rows] == [("Fibre works", "OX29"), ("Cabinet upgrade", "SN16")]
