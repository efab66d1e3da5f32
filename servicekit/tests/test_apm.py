"""Elastic APM against a real intake server on loopback: errors, streams and outbound calls in transactions."""

from __future__ import annotations

from collections.abc import Callable

import elasticapm
import httpx
import pytest
from elasticapm.transport.base import ChilledQueue

from servicekit.apm import apm_client
from servicekit.testing import FakeApmServer, FakeEntra, LiveServer
from tests.fixture_service import FixtureSettings, create_app
from tests.fixture_service.views import INTERNAL_DETAIL


@pytest.mark.slow
def test_errors_streams_and_outbound_calls_in_transactions(
    make_settings: Callable[..., FixtureSettings],
    fake_entra: FakeEntra,
    fake_apm: FakeApmServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {"CLOUD_PROVIDER": "none", "CENTRAL_CONFIG": "false", "METRICS_INTERVAL": "0s"}.items():
        monkeypatch.setenv(f"ELASTIC_APM_{name}", value)
    settings = make_settings(elastic_apm_server_url=fake_apm.url)
    try:
        with LiveServer(create_app(settings), settings) as server:  # its lifespan's end flushes the agent
            response = httpx.get(f"{server.url}/failure", timeout=10)
            streamed = httpx.get(f"{server.url}/trickle", timeout=10)
            called_out = httpx.get(f"{server.url}/outbound", params={"url": fake_entra.jwks_url}, timeout=10)
            assert httpx.get(f"{server.url}/no-such-page", timeout=10).status_code == 404
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    finally:
        elasticapm.uninstrument()
    assert streamed.text.count("line") == 5
    assert called_out.json() == {"status": 200}

    transactions = fake_apm.of_kind("transaction")
    assert sorted(t["name"] for t in transactions) == [
        "GET /failure",
        "GET /outbound",
        "GET /trickle",
        "GET unknown route",
    ], "probes make no transactions"
    (trickle,) = [t for t in transactions if t["name"] == "GET /trickle"]
    assert trickle["duration"] >= 1000  # ms: the transaction lasts until the stream's last byte, not the view's return
    (outbound,) = [t for t in transactions if t["name"] == "GET /outbound"]
    http_spans = [span for span in fake_apm.of_kind("span") if span["transaction_id"] == outbound["id"]]
    assert [(span["type"], span["subtype"]) for span in http_spans] == [("external", "http")]
    assert http_spans[0]["context"]["http"]["url"] == fake_entra.jwks_url
    assert response.status_code == 500
    (transaction,) = [t for t in transactions if t["name"] == "GET /failure"]
    assert transaction["result"] == "HTTP 5xx"
    (error,) = fake_apm.of_kind("error")
    assert error["transaction_id"] == transaction["id"]
    assert INTERNAL_DETAIL in error["exception"]["message"]
    assert error["context"]["tags"]["request_id"] == response.headers["x-request-id"]


def test_the_agent_wakes_its_sending_thread_in_batches_not_per_event(
    make_settings: Callable[..., FixtureSettings], fake_apm: FakeApmServer
) -> None:
    client = apm_client(make_settings(elastic_apm_server_url=fake_apm.url))
    assert client is not None
    try:
        assert isinstance(client._transport._event_queue, ChilledQueue)
    finally:
        client.close()
        elasticapm.uninstrument()
