"""Notices as the API's callers see them: create one with a JSON body, get it by id, list the latest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.models import Notice
from servicekit.testing import assert_problem

Headers = Callable[..., dict[str, str]]

NEW_NOTICE = {"title": "Fibre works on the High Street", "area": "OX29", "starts_at": "2026-12-08T09:00:00+00:00"}


def test_a_created_notice_is_at_its_location(client: TestClient, auth_headers: Headers, db_session: Session) -> None:
    created = client.post("/notices", json=NEW_NOTICE, headers=auth_headers(roles=["Outages.Write"]))
    assert created.status_code == 201
    fetched = client.get(created.headers["location"], headers=auth_headers(roles=["Outages.Read"]))
    assert fetched.json() == created.json() == NEW_NOTICE | {"id": created.json()["id"], "ends_at": None}


def test_a_notice_without_an_area_is_a_400_naming_it(client: TestClient, auth_headers: Headers) -> None:
    no_area = {name: value for name, value in NEW_NOTICE.items() if name != "area"}
    refused = client.post("/notices", json=no_area, headers=auth_headers())
    problem = assert_problem(refused, 400)
    assert problem["detail"] == "'area' is a required property"
    assert problem["invalid_params"] == [{"name": "$.area", "reason": "is required"}]


def test_a_field_the_spec_does_not_declare_is_a_400(client: TestClient, auth_headers: Headers) -> None:
    refused = client.post("/notices", json=NEW_NOTICE | {"severity": "high"}, headers=auth_headers())
    problem = assert_problem(refused, 400)
    assert "'severity' was unexpected" in problem["detail"]
    assert [field["name"] for field in problem["invalid_params"]] == ["$"]


def test_a_start_that_is_not_a_date_time_is_a_400_naming_it(client: TestClient, auth_headers: Headers) -> None:
    refused = client.post("/notices", json=NEW_NOTICE | {"starts_at": "08/12/2026 09:00"}, headers=auth_headers())
    assert [field["name"] for field in assert_problem(refused, 400)["invalid_params"]] == ["$.starts_at"]


def test_an_unknown_notice_is_a_404(client: TestClient, auth_headers: Headers) -> None:
    assert_problem(client.get("/notices/999999", headers=auth_headers()), 404)


def test_the_list_shows_the_latest_first(client: TestClient, auth_headers: Headers, db_session: Session) -> None:
    db_session.add_all(
        [
            Notice(title="Cabinet upgrade", area="SN16", starts_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC)),
            Notice(title="New exchange", area="OX29", starts_at=dt.datetime(2099, 6, 1, tzinfo=dt.UTC)),
        ]
    )
    db_session.commit()
    listed = client.get("/notices", params={"limit": 2}, headers=auth_headers()).json()
    assert [notice["title"] for notice in listed] == ["New exchange", "Cabinet upgrade"]


def test_times_come_back_in_utc(client: TestClient, auth_headers: Headers, db_session: Session) -> None:
    summer = NEW_NOTICE | {"starts_at": "2026-07-01T09:00:00+01:00", "ends_at": "2026-07-01T17:00:00+01:00"}
    created = client.post("/notices", json=summer, headers=auth_headers()).json()
    assert (created["starts_at"], created["ends_at"]) == ("2026-07-01T08:00:00+00:00", "2026-07-01T16:00:00+00:00")
