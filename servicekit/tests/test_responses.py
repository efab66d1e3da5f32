"""`created()`: a view's 201 with the new resource's URL in Location, and its JSON body, whose dates and
datetimes are written as the kit's JSON bodies write them (ISO 8601, a datetime with its offset)."""

from __future__ import annotations

import datetime as dt
import re

import flask
import pytest
from starlette.testclient import TestClient

from servicekit.responses import created
from tests.notices import a_notice


def test_created_answers_201_with_the_new_resources_url_and_body(client: TestClient) -> None:
    notice = a_notice(starts_at="2026-12-07T10:00:00+01:00", ends_at="2026-12-07T12:30:00Z")
    answer = client.post("/notices", json=notice)
    assert answer.status_code == 201
    assert answer.headers["location"] == f"/notices/{notice['reference']}"
    assert answer.json()["reference"] == notice["reference"]
    fetched = client.get(answer.headers["location"])
    assert fetched.json() == answer.json()


def test_dates_are_iso_8601_and_datetimes_carry_their_offset(client: TestClient) -> None:
    notice = a_notice(published_on="2026-12-06", starts_at="2026-12-07T10:00:00+01:00")
    written = client.post("/notices", json=notice).json()
    assert written["published_on"] == "2026-12-06"
    # In the database session's time zone (the server's, unless the service sets one), its offset written.
    assert re.fullmatch(r"2026-12-07T[0-9]{2}:00:00[+-][0-9]{2}:[0-9]{2}", written["starts_at"])
    assert dt.datetime.fromisoformat(written["starts_at"]) == dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("path", "segments", "location"),
    [("/notices", ("a b/c",), "/notices/a%20b%2Fc"), ("/areas/7/", (7, "notices", 3), "/areas/7/7/notices/3")],
)
def test_each_segment_of_the_location_is_percent_encoded(
    path: str, segments: tuple[str | int, ...], location: str
) -> None:
    with flask.Flask(__name__).test_request_context(path, method="POST"):
        response = created({"id": 1}, *segments)
    assert (response.status_code, response.headers["Location"], response.json) == (201, location, {"id": 1})
