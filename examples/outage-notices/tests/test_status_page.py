"""The status page: new notices go there once, with the service's app token."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.orm import Session

from app.models import Notice
from app.status_page import published_notices, status_page
from config import Settings
from servicekit.auth.outbound import AppTokenAuth
from servicekit.testing import SERVICE_CLIENT_ID, SERVICE_SECRET, FakeEntra, FakeEntraTransport
from servicekit.testing.loopback import LoopbackHandler, LoopbackServer

Received = list[tuple[str, str, Any]]  # each request's path, Authorization header and JSON body


@pytest.fixture
def status_page_stand_in() -> Iterator[tuple[str, Received]]:
    """The status page on loopback, keeping what it was sent."""
    received: Received = []

    class Incidents(LoopbackHandler):
        def do_PUT(self) -> None:
            received.append((self.path, self.headers["Authorization"], json.loads(self.request_body())))
            self.reply(200, b"{}")

    server = LoopbackServer(Incidents).start()
    yield server.url, received
    server.stop()


@pytest.fixture
def publishing_settings(make_settings: Callable[..., Settings], status_page_stand_in: tuple[str, Received]) -> Settings:
    """The service's own registration, which the run's `fake_entra` issues app tokens to."""
    url, _received = status_page_stand_in
    return make_settings(auth_client_id=SERVICE_CLIENT_ID, auth_client_secret=SERVICE_SECRET, status_page_url=url)


def app_token(settings: Settings, entra: FakeEntra) -> AppTokenAuth:
    """msal asks the loopback Entra for the token (it would ask login.microsoftonline.com)."""
    entra_http = httpx.Client(transport=FakeEntraTransport(entra))
    return AppTokenAuth(settings, settings.status_page_scope, http_client=entra_http)


def test_new_notices_are_published_once_with_an_app_token(
    publishing_settings: Settings,
    fake_entra: FakeEntra,
    status_page_stand_in: tuple[str, Received],
    db_session: Session,
) -> None:
    notice = Notice(title="Fibre works", area="OX29", starts_at=dt.datetime(2026, 12, 8, 9, tzinfo=dt.UTC))
    db_session.add(notice)
    db_session.commit()
    with status_page(publishing_settings, app_token(publishing_settings, fake_entra)) as client:
        assert published_notices(db_session, client) == 1
        assert published_notices(db_session, client) == 0
    _url, [(path, authorization, body)] = status_page_stand_in
    assert (path, body["title"]) == (f"/incidents/outages-{notice.id}", "Fibre works")
    token = jwt.decode(authorization.removeprefix("Bearer "), options={"verify_signature": False})
    assert token["aud"] == "api://status-page"
