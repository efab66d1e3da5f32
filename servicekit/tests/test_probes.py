"""/healthz and /readyz, as Kubernetes sees them."""

from __future__ import annotations

import asyncio
import time

import httpx
import httpx2
import pytest
from starlette.testclient import TestClient

from servicekit.lifecycle import Lifecycle
from servicekit.testing import LiveServer, socket_that_never_answers, socket_that_refuses, temporary_database
from tests.fixture_service import create_app


def test_liveness_answers_without_a_token(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_plain_liveness_probe_is_answered_as_the_whole_stack_answers_it(client: TestClient, method: str) -> None:
    short_way = client.request(method, "/healthz", headers={"X-Request-ID": "probe-1"})
    long_way = client.request(method, "/healthz?via=stack", headers={"X-Request-ID": "probe-2"})
    assert (short_way.status_code, short_way.content) == (long_way.status_code, long_way.content)
    assert {**short_way.headers, "x-request-id": "ours"} == {**long_way.headers, "x-request-id": "ours"}
    assert short_way.headers["x-request-id"] not in {"probe-1", long_way.headers["x-request-id"]}


def test_ready_when_the_database_answers_and_is_migrated(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200


@pytest.mark.anyio
async def test_ready_through_the_async_client(async_client: httpx.AsyncClient) -> None:
    response = await async_client.get("/readyz")
    assert response.status_code == 200


def assert_unready(response: httpx2.Response, reason: str) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_not_ready_while_migrations_are_behind(
    server_url: str, make_settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        temporary_database(server_url) as unmigrated,
        create_app(make_settings(database_url=unmigrated)).test_client() as client,
    ):
        response = client.get("/readyz")
        assert_unready(response, "the database schema is not at the version this service needs")
        assert "0001" not in response.text  # anyone may probe: revisions go to the log
        assert client.get("/healthz").status_code == 200
    assert "run `python run.py migrate`" in capsys.readouterr().out


def test_ready_but_saying_so_when_the_database_is_unreachable(
    make_settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every pod sees the same outage: unready, they would all leave the Service, and the ingress would
    answer every request itself, those that need no database included."""
    with socket_that_refuses() as port:
        settings = make_settings(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/none")
        with create_app(settings).test_client() as client:
            response = client.get("/readyz")
            assert response.status_code == 200
            assert response.json() == {"status": "ok", "database": "unavailable"}
            assert client.get("/healthz").status_code == 200
    assert "database unavailable to the readiness check" in capsys.readouterr().out


def test_ready_but_saying_so_when_the_database_does_not_answer_in_time(make_settings) -> None:
    with socket_that_never_answers() as port:
        settings = make_settings(
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/none", database_timeout_seconds=0.5
        )
        with create_app(settings).test_client() as client:
            started = time.monotonic()
            response = client.get("/readyz")
            assert time.monotonic() - started < 5
            assert response.json() == {"status": "ok", "database": "unavailable"}


def test_not_ready_once_shutdown_begins(make_settings) -> None:
    app = create_app(make_settings())
    lifecycle = app.parts.get(Lifecycle)
    with app.test_client() as client:
        assert client.get("/readyz").status_code == 200
        lifecycle.begin_shutdown()
        assert_unready(client.get("/readyz"), "the service is shutting down")
        assert client.get("/healthz").status_code == 200


@pytest.mark.slow
def test_liveness_answers_while_every_flask_thread_is_busy(live_server: LiveServer) -> None:
    """20 slow requests hold all 10 Flask threads (and queue 10 more); /healthz must not wait for them."""
    slow_seconds = 3.0

    async def scenario() -> tuple[list[float], float]:
        async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
            started = time.monotonic()
            slow = [asyncio.create_task(client.get("/slow", params={"seconds": slow_seconds})) for _ in range(20)]
            await asyncio.sleep(0.5)  # let them take the threads
            latencies = []
            for _ in range(50):
                probe_started = time.perf_counter()
                response = await client.get("/healthz")
                latencies.append(time.perf_counter() - probe_started)
                assert response.status_code == 200
            probes_done = time.monotonic() - started
            assert not any(task.done() for task in slow), "the slow requests ended before the probes: no load"
            assert all(response.status_code == 200 for response in await asyncio.gather(*slow))
            return latencies, probes_done

    latencies, probes_done = asyncio.run(scenario())
    assert probes_done < slow_seconds
    assert max(latencies) < slow_seconds / 2
