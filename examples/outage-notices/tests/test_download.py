"""GET /notices-csv: every notice, as CSV under a header line."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.models import Notice

Headers = Callable[..., dict[str, str]]

JANUARY = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


def test_the_csv_holds_the_notices_under_a_header(
    client: TestClient, auth_headers: Headers, db_session: Session
) -> None:
    db_session.add_all(
        [
            Notice(title="Fibre works", area="OX29", starts_at=JANUARY),
            Notice(title="Cabinet upgrade", area="SN16", starts_at=JANUARY),
        ]
    )
    db_session.commit()  # the download reads on a connection of its own: it sees what is committed
    response = client.get("/notices-csv", headers=auth_headers(roles=["Outages.Read"]))
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="notices.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["title"], row["area"]) for row in rows] == [("Fibre works", "OX29"), ("Cabinet upgrade", "SN16")]
