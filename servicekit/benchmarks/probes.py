"""The kit's part of `make bench` (`python -m benchmarks.probes` in servicekit/): each figure beside a
reference measured in the same run, and their ratio.

Liveness under load: /healthz of the fixture service while 20 requests hold all of Flask's worker
threads, against the same uvicorn serving a bare ASGI app that answers at once (the fastest an answer
can be here).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time

import httpx
from starlette.types import Receive, Scope, Send

from servicekit.testing import LiveServer, settings_for_tests
from tests.fixture_service import MIGRATIONS, FixtureSettings, create_app

PROBES = 500
SLOW_REQUESTS = 20


async def bare_asgi(scope: Scope, _receive: Receive, send: Send) -> None:
    """The reference: an ASGI app with nothing in it but the answer."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


async def probe_latencies(url: str, path: str, busy_seconds: float) -> list[float]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        slow = [
            asyncio.create_task(client.get("/slow", params={"seconds": busy_seconds}))
            for _ in range(SLOW_REQUESTS if busy_seconds else 0)
        ]
        await asyncio.sleep(0.3 if slow else 0)
        latencies = []
        for _ in range(PROBES):
            started = time.perf_counter()
            (await client.get(path)).raise_for_status()
            latencies.append(time.perf_counter() - started)
        await asyncio.gather(*slow)
        return latencies


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] * 1000


def report(name: str, measured: list[float], reference: list[float]) -> None:
    ours, theirs = p99(measured), p99(reference)
    print(f"{name:<52} p99 {ours:7.2f} ms   reference p99 {theirs:7.2f} ms   ratio {ours / theirs:5.2f}")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{folder}/bench.sqlite3"
        MIGRATIONS.upgrade(database_url)
        settings = settings_for_tests(FixtureSettings, database_url=database_url, log_level="WARNING")
        with LiveServer(create_app(settings), settings) as service, LiveServer(bare_asgi, settings) as bare:
            reference = asyncio.run(probe_latencies(bare.url, "/", busy_seconds=0))
            idle = asyncio.run(probe_latencies(service.url, "/healthz", busy_seconds=0))
            busy = asyncio.run(probe_latencies(service.url, "/healthz", busy_seconds=5))
    print(f"{PROBES} sequential probes each; reference: a bare ASGI app on the same uvicorn, idle")
    report("/healthz, idle", idle, reference)
    report(f"/healthz, {SLOW_REQUESTS} requests holding every Flask thread", busy, reference)


if __name__ == "__main__":
    main()
