"""App tokens for calls to other services: msal's client credentials flow, against a loopback Entra."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import httpx
import pytest

from servicekit.auth.outbound import AppTokenAuth, AppTokenError
from servicekit.testing import settings_for_tests
from servicekit.testing.fake_entra import (
    API_CLIENT_ID,
    SERVICE_CLIENT_ID,
    SERVICE_SECRET,
    FakeEntra,
    FakeEntraTransport,
)
from servicekit.testing.loopback import LoopbackHandler, LoopbackServer
from tests.fixture_service import FixtureSettings

OTHER_SERVICE = "api://other-service/.default"


@pytest.fixture
def other_service() -> Iterator[str]:
    """A service on loopback that answers with the Authorization header it received."""

    class Echo(LoopbackHandler):
        def do_GET(self) -> None:
            self.reply(200, self.headers.get("Authorization", "").encode(), "text/plain")

    server = LoopbackServer(Echo).start()
    yield server.url
    server.stop()


def service_settings(entra: FakeEntra, secret: str = SERVICE_SECRET) -> FixtureSettings:
    return settings_for_tests(
        FixtureSettings,
        auth_tenant_id=entra.tenant,
        auth_audience=API_CLIENT_ID,
        auth_client_id=SERVICE_CLIENT_ID,
        auth_client_secret=secret,
    )


def app_token_auth(entra: FakeEntra, secret: str = SERVICE_SECRET) -> AppTokenAuth:
    msal_http = httpx.Client(transport=FakeEntraTransport(entra))
    return AppTokenAuth(service_settings(entra, secret), OTHER_SERVICE, http_client=msal_http)


def test_calls_carry_an_app_token_fetched_once(own_entra: FakeEntra, other_service: str) -> None:
    auth = app_token_auth(own_entra)
    assert own_entra.token_requests == 0  # nothing is asked of Entra until the first call
    with httpx.Client(auth=auth) as client:
        first = client.get(other_service).text
        second = client.get(other_service).text
    assert first.startswith("Bearer ey")
    assert first == second
    assert own_entra.token_requests == 1


def test_async_clients_get_the_token_off_the_event_loop(own_entra: FakeEntra, other_service: str) -> None:
    """While msal waits half a second for Entra, the event loop keeps ticking."""
    own_entra.delay_seconds = 0.5
    gaps: list[float] = []

    async def call() -> str:
        async with httpx.AsyncClient(auth=app_token_auth(own_entra)) as client:
            return (await client.get(other_service)).text

    async def tick(until: anyio.Event) -> None:
        last = time.perf_counter()
        while not until.is_set():
            await anyio.sleep(0.02)
            gaps.append(time.perf_counter() - last)
            last = time.perf_counter()

    async def both() -> str:
        done = anyio.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(tick, done)
            header = await call()
            done.set()
        return header

    assert anyio.run(both).startswith("Bearer ey")
    assert sum(gaps) >= 0.5
    assert max(gaps) < 0.25


def test_a_refusal_names_entras_reason_and_never_the_secret(own_entra: FakeEntra, other_service: str) -> None:
    wrong_secret = "wrong-secret-value"
    with httpx.Client(auth=app_token_auth(own_entra, wrong_secret)) as client, pytest.raises(AppTokenError) as error:
        client.get(other_service)
    assert "AADSTS7000215" in str(error.value)
    assert wrong_secret not in str(error.value)


def test_outbound_calls_need_the_apps_credentials() -> None:
    with pytest.raises(AppTokenError, match="AUTH_CLIENT_SECRET"):
        AppTokenAuth(settings_for_tests(FixtureSettings), OTHER_SERVICE)
