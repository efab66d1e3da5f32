"""Elastic APM against a real intake server on loopback, with Directmail as a real process."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from config import PROJECT_ROOT
from servicekit.testing import FakeApmServer, FakeEntra, ServiceProcess, environment_without, eventually

pytestmark = pytest.mark.slow
APM_SECRET = "apm-secret-token-for-tests"
CLIENT_SECRET = "client-secret-for-tests"  # the service's own, never to reach APM
OBJECT_ID = "0a1b2c3d-0000-4000-8000-00000000a9b1"


def start_service(env: dict[str, str], prelude: str = "") -> ServiceProcess:
    """`python run.py serve` in a process of its own, `prelude` run first in that process."""
    code = (
        f"{prelude}\nimport runpy, sys; sys.argv = ['run.py', 'serve']; runpy.run_path('run.py', run_name='__main__')"
    )
    command = [sys.executable, "-c", code]
    return ServiceProcess(command, cwd=PROJECT_ROOT, env=environment_without("ELASTIC_APM_") | env).wait_until_live()


def log_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def service_env(database_url: str, entra: FakeEntra) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "AUTH_CLIENT_SECRET": CLIENT_SECRET,
        **{name.upper(): str(value) for name, value in entra.trusted_by().items()},
    }


@pytest.fixture
def traced_service(database_url: str, fake_entra: FakeEntra, fake_apm: FakeApmServer) -> Iterator[ServiceProcess]:
    env = service_env(database_url, fake_entra) | {
        "ELASTIC_APM_SERVER_URL": fake_apm.url,
        "ELASTIC_APM_SECRET_TOKEN": APM_SECRET,
        "ELASTIC_APM_CLOUD_PROVIDER": "none",
        "ELASTIC_APM_CENTRAL_CONFIG": "false",
        "ELASTIC_APM_METRICS_INTERVAL": "0s",
        "ELASTIC_APM_API_REQUEST_TIME": "200ms",
    }
    service = start_service(env)
    yield service
    service.kill()


def by_name(transactions: list[dict[str, Any]], name: str, result: str) -> dict[str, Any]:
    matching = [t for t in transactions if t["name"] == name and t["result"] == result]
    assert len(matching) == 1, [(t["name"], t["result"]) for t in transactions]
    return matching[0]


def test_requests_become_transactions_named_by_route_with_their_logs_joined(
    traced_service: ServiceProcess, fake_apm: FakeApmServer, fake_entra: FakeEntra
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
    assert eventually(lambda: len(fake_apm.of_kind("transaction")) >= 4, seconds=15)
    logs = log_lines(traced_service.stop())

    transactions = fake_apm.of_kind("transaction")
    assert len(transactions) == 4, "probes, /ui and /openapi.json make no transactions"
    csv = by_name(transactions, "GET /directmail-csv", "HTTP 2xx")
    by_name(transactions, "GET /directmail-csv", "HTTP 4xx")
    by_name(transactions, "GET unknown route", "HTTP 4xx")
    summary = by_name(transactions, "GET /directmail-summary", "HTTP 2xx")
    assert csv["context"]["user"]["id"] == OBJECT_ID
    assert csv["context"]["request"]["headers"]["authorization"] == "[REDACTED]"
    assert csv["context"]["tags"]["request_id"] == download.headers["x-request-id"]

    sql = [span for span in fake_apm.of_kind("span") if span["transaction_id"] == summary["id"]]
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
    assert CLIENT_SECRET not in traced_service.output


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
    assert log_lines(service.stop())
    entra_keys = ("127.0.0.1", fake_entra.port)
    assert {eval(line) for line in connections.read_text().splitlines()} <= {entra_keys}
