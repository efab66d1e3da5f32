"""The real process under SIGTERM, as Kubernetes stops a pod: readiness fails first, then it exits."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from servicekit.audit import Outcome
from servicekit.audit_store import AuditQuery, stored_events
from servicekit.database import Database
from servicekit.testing import FakeEntra, ServiceProcess, environment_without, slow_reader
from tests.fixture_service import MIGRATIONS

DRAIN_SECONDS = 2.0
DB_PASSWORD = "pw-that-must-not-be-logged"  # the test server trusts any password
KIT_ROOT = Path(__file__).parents[1]


@pytest.fixture
def service(database_url: str) -> Iterator[ServiceProcess]:
    env = environment_without("ELASTIC_APM_") | {
        "ENVIRONMENT": "test",
        "DATABASE_URL": make_url(database_url).set(password=DB_PASSWORD).render_as_string(hide_password=False),
        "SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
    }
    process = ServiceProcess([sys.executable, "-m", "tests.fixture_service", "serve"], cwd=KIT_ROOT, env=env)
    try:
        yield process.wait_until_live()
    finally:
        process.kill()


@pytest.mark.slow
def test_sigterm_fails_readiness_at_once_then_drains_and_exits(service: ServiceProcess) -> None:
    assert httpx.get(f"{service.url}/readyz").status_code == 200

    service.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    readiness = httpx.get(f"{service.url}/readyz")
    assert readiness.status_code == 503
    assert readiness.json()["detail"] == "the service is shutting down"
    assert httpx.get(f"{service.url}/healthz").status_code == 200
    assert httpx.get(f"{service.url}/openapi.json").status_code == 200  # still serving while it drains

    output, _ = service.process.communicate(timeout=DRAIN_SECONDS + 20)
    assert time.monotonic() - signalled >= DRAIN_SECONDS - 0.2
    assert "service stopped" in output
    assert DB_PASSWORD not in output
    assert service.process.returncode == 0  # a graceful stop, as Kubernetes asked for it


@pytest.mark.slow
def test_a_download_under_way_at_sigterm_arrives_whole(service: ServiceProcess) -> None:
    with httpx.stream("GET", f"{service.url}/trickle", timeout=10) as response:
        lines = response.iter_lines()
        first = next(lines)
        service.process.send_signal(signal.SIGTERM)
        rest = list(lines)
    assert [first, *rest] == [f"line {n}" for n in range(5)]
    service.process.communicate(timeout=DRAIN_SECONDS + 20)
    assert service.process.returncode == 0


@pytest.mark.slow
def test_a_download_cut_by_the_shutdown_timeout_is_audited_as_cut_not_abandoned(
    database_url: str, fake_entra: FakeEntra
) -> None:
    env = environment_without("ELASTIC_APM_") | {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "SHUTDOWN_TIMEOUT_SECONDS": "1",
        "LOG_LEVEL": "ERROR",
        **{name.upper(): str(value) for name, value in fake_entra.trusted_by().items()},
    }
    token = fake_entra.make_token(roles=["Fixture.Read"])
    process = ServiceProcess([sys.executable, "-m", "tests.fixture_service", "serve"], cwd=KIT_ROOT, env=env)
    try:
        process.wait_until_live()
        headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
        with (
            slow_reader(headers=headers) as client,
            client.stream("GET", f"{process.url}/audited-numbers?rows=2000000") as response,
        ):
            chunks = response.iter_raw()  # kept: once collected, it would hang up
            next(chunks)  # then reads no more: the download cannot end before the timeout
            process.process.send_signal(signal.SIGTERM)
            output, _ = process.process.communicate(timeout=30)
            with pytest.raises(httpx.RemoteProtocolError):  # a broken transfer, never a short file
                for _ in chunks:
                    pass
    finally:
        process.kill()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    (event,) = [line for line in lines if line["log"]["logger"] == "servicekit.audit"]
    assert event["audit"]["outcome"] == "cut-at-shutdown"
    assert event["http"]["request"]["id"] == response.headers["x-request-id"]
    database = Database(database_url, MIGRATIONS, timeout_seconds=2, application_name="shutdown-tests")
    try:  # written before the service stopped: the shutdown's end waits for the audit store
        (stored,) = [e for e in stored_events(database, AuditQuery()) if e.request_id == event["http"]["request"]["id"]]
    finally:
        database.dispose()
    assert stored.outcome is Outcome.CUT_AT_SHUTDOWN
    assert "CancelledError" not in output
    assert process.process.returncode == 0
