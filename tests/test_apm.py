"""Elastic APM against a real intake server on loopback, with the service as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import elasticapm
import httpx
import pytest

from config import PROJECT_ROOT
from tests.conftest import LiveServer, build_app, settings_for_tests, trusting
from tests.fake_apm import FakeApmServer
from tests.fake_entra import SERVICE_SECRET, FakeEntra
from tests.fixture_views import INTERNAL_DETAIL

pytestmark = pytest.mark.slow
APM_SECRET = "apm-secret-token-for-tests"
OBJECT_ID = "0a1b2c3d-0000-4000-8000-00000000a9b1"


@dataclass
class Service:
    url: str
    process: subprocess.Popen[str]

    def stop(self) -> list[dict[str, Any]]:
        """Stops the service; its log lines, as JSON."""
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=30)
        self.output = output
        return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def start_service(env: dict[str, str], prelude: str = "") -> Service:
    """`python run.py serve` in a process of its own, `prelude` run first in that process."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    code = (
        f"{prelude}\nimport runpy, sys; sys.argv = ['run.py', 'serve']; runpy.run_path('run.py', run_name='__main__')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={name: value for name, value in os.environ.items() if not name.startswith("ELASTIC_APM_")}
        | {"PORT": str(port)}
        | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Service(url, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"the service did not start:\n{process.communicate()[0]}")


def service_env(database_url: str, entra: FakeEntra) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "AUTH_CLIENT_SECRET": SERVICE_SECRET,
        **{name.upper(): str(value) for name, value in trusting(entra).items()},
    }


def eventually(condition: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.1)
    return condition()


@pytest.fixture
def apm() -> Iterator[FakeApmServer]:
    server = FakeApmServer()
    yield server
    server.stop()


@pytest.fixture
def traced_service(database_url: str, fake_entra: FakeEntra, apm: FakeApmServer) -> Iterator[Service]:
    env = service_env(database_url, fake_entra) | {
        "ELASTIC_APM_SERVER_URL": apm.url,
        "ELASTIC_APM_SECRET_TOKEN": APM_SECRET,
        "ELASTIC_APM_CLOUD_PROVIDER": "none",
        "ELASTIC_APM_CENTRAL_CONFIG": "false",
        "ELASTIC_APM_METRICS_INTERVAL": "0s",
        "ELASTIC_APM_API_REQUEST_TIME": "200ms",
    }
    service = start_service(env)
    yield service
    if service.process.poll() is None:
        service.process.kill()
        service.process.communicate()


def by_name(transactions: list[dict[str, Any]], name: str, result: str) -> dict[str, Any]:
    matching = [t for t in transactions if t["name"] == name and t["result"] == result]
    assert len(matching) == 1, [(t["name"], t["result"]) for t in transactions]
    return matching[0]


def test_requests_become_transactions_named_by_route_with_their_logs_joined(
    traced_service: Service, apm: FakeApmServer, fake_entra: FakeEntra
) -> None:
    token = fake_entra.make_token(roles=["Directmail.Read"], oid=OBJECT_ID)
    staff = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=traced_service.url, timeout=30) as client:
        download = client.get("/directmail-csv", params={"communities": "Winson"}, headers=staff)
        assert download.status_code == 200
        assert client.get("/directmail-summary", params={"rfs": "true"}, headers=staff).status_code == 200
        assert client.get("/directmail-csv").status_code == 401
        assert client.get("/no-such-page").status_code == 404
        for probe in ("/healthz", "/readyz", "/ui/", "/openapi.json"):
            assert client.get(probe).status_code == 200
    assert eventually(lambda: len(apm.of_kind("transaction")) >= 4)
    logs = traced_service.stop()

    transactions = apm.of_kind("transaction")
    assert len(transactions) == 4, "probes, /ui and /openapi.json make no transactions"
    csv = by_name(transactions, "GET /directmail-csv", "HTTP 2xx")
    by_name(transactions, "GET /directmail-csv", "HTTP 4xx")
    by_name(transactions, "GET unknown route", "HTTP 4xx")
    summary = by_name(transactions, "GET /directmail-summary", "HTTP 2xx")
    assert csv["context"]["user"]["id"] == OBJECT_ID
    assert csv["context"]["request"]["headers"]["authorization"] == "[REDACTED]"
    assert csv["context"]["tags"]["request_id"] == download.headers["x-request-id"]

    sql = [span for span in apm.of_kind("span") if span["transaction_id"] == summary["id"]]
    assert any(span["type"] == "db" and span["subtype"] == "postgresql" for span in sql)

    download_lines = [
        line for line in logs if line.get("http", {}).get("request", {}).get("id") == download.headers["x-request-id"]
    ]
    assert {line["message"] for line in download_lines} >= {"request", "download complete"}
    for line in download_lines:
        assert line["trace"]["id"] == csv["trace_id"]
        assert line["transaction"]["id"] == csv["id"]

    assert token not in traced_service.output
    assert APM_SECRET not in traced_service.output
    assert SERVICE_SECRET not in traced_service.output


def test_no_apm_settings_means_no_connection_but_the_database(
    database_url: str, fake_entra: FakeEntra, tmp_path
) -> None:
    """Every connection the process opens from Python is recorded: none may go anywhere but the
    database (whose driver, libpq, connects in C) and Entra's keys (the service's own auth)."""
    connections = tmp_path / "connections.txt"
    prelude = (
        "import sys\n"
        f"log = open({str(connections)!r}, 'a', buffering=1)\n"
        "def audit(event, args):\n"
        "    if event == 'socket.connect': log.write(repr(args[1]) + '\\n')\n"
        "sys.addaudithook(audit)\n"
    )
    service = start_service(service_env(database_url, fake_entra), prelude)
    token = fake_entra.make_token(roles=["Directmail.Read"])
    with httpx.Client(base_url=service.url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/directmail-csv", params={"communities": "Winson"}).status_code == 200
        assert client.get("/no-such-page").status_code == 404
    time.sleep(1)
    logs = service.stop()
    assert logs
    entra_keys = ("127.0.0.1", fake_entra.port)
    assert {eval(line) for line in connections.read_text().splitlines()} <= {entra_keys}


def test_errors_streams_and_outbound_calls_in_transactions(
    database_url: str, fake_entra: FakeEntra, apm: FakeApmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"CLOUD_PROVIDER": "none", "CENTRAL_CONFIG": "false", "METRICS_INTERVAL": "0s"}.items():
        monkeypatch.setenv(f"ELASTIC_APM_{name}", value)
    settings = settings_for_tests(database_url, elastic_apm_server_url=apm.url, **trusting(fake_entra))
    try:
        with LiveServer(build_app(settings), settings) as server:  # its lifespan's end flushes the agent
            response = httpx.get(f"{server.url}/_test/failure", timeout=10)
            streamed = httpx.get(f"{server.url}/_test/trickle", timeout=10)
            called_out = httpx.get(f"{server.url}/_test/outbound", params={"url": fake_entra.jwks_url}, timeout=10)
    finally:
        elasticapm.uninstrument()
    assert streamed.text.count("line") == 5
    assert called_out.json() == {"status": 200}

    (trickle,) = [t for t in apm.of_kind("transaction") if t["name"] == "GET /_test/trickle"]
    assert trickle["duration"] >= 1000  # ms: the transaction lasts until the stream's last byte, not the view's return
    (outbound,) = [t for t in apm.of_kind("transaction") if t["name"] == "GET /_test/outbound"]
    http_spans = [span for span in apm.of_kind("span") if span["transaction_id"] == outbound["id"]]
    assert [(span["type"], span["subtype"]) for span in http_spans] == [("external", "http")]
    assert http_spans[0]["context"]["http"]["url"] == fake_entra.jwks_url
    assert response.status_code == 500
    (transaction,) = [t for t in apm.of_kind("transaction") if t["name"] == "GET /_test/failure"]
    assert transaction["result"] == "HTTP 5xx"
    (error,) = apm.of_kind("error")
    assert error["transaction_id"] == transaction["id"]
    assert INTERNAL_DETAIL in error["exception"]["message"]
    assert error["context"]["tags"]["request_id"] == response.headers["x-request-id"]
