"""The real process under SIGTERM, as Kubernetes stops a pod: readiness fails first, then it exits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import make_url

from config import PROJECT_ROOT

DRAIN_SECONDS = 2.0
DB_PASSWORD = "pw-that-must-not-be-logged"  # the test server trusts any password


@pytest.fixture
def service(database_url: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    env = os.environ | {
        "ENVIRONMENT": "test",
        "DATABASE_URL": make_url(database_url).set(password=DB_PASSWORD).render_as_string(hide_password=False),
        "PORT": str(port),
        "SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
    }
    process = subprocess.Popen(
        [sys.executable, "run.py", "serve"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_live(url, process)
        yield process, url
    finally:
        process.kill()
        process.wait(timeout=10)


def wait_until_live(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the service exited early:\n{process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the service did not come up within 30 s")


@pytest.mark.slow
def test_sigterm_fails_readiness_at_once_then_drains_and_exits(service: tuple[subprocess.Popen[str], str]) -> None:
    process, url = service
    assert httpx.get(f"{url}/readyz").status_code == 200

    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    readiness = httpx.get(f"{url}/readyz")
    assert readiness.status_code == 503
    assert readiness.json()["detail"] == "the service is shutting down"
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert httpx.get(f"{url}/openapi.json").status_code == 200  # still serving while it drains

    output, _ = process.communicate(timeout=DRAIN_SECONDS + 20)
    assert time.monotonic() - signalled >= DRAIN_SECONDS - 0.2
    assert "service stopped" in output
    assert DB_PASSWORD not in output
