"""`make bench`, the load test: for a bounded time, more exports than the service has slots, probes and
summaries, all at once, as a busy morning would bring them.

What must hold, or the benchmark fails: probes never fail; an export either arrives whole (as many rows
as the summary counts for the same filters) or is refused with 503 and Retry-After; summaries answer.
It reports each endpoint's p50 and p99.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

SECONDS = 20.0
EXPORTERS = 20
COMMUNITIES = 2  # a list of a few communities: each export takes a fraction of a second, and many complete
# Sooner than Retry-After (30 s), to keep every slot contended; later than at once, or refusals swamp the 2 cores.
RETRY_SECONDS = 0.25


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "seconds": SECONDS,
            "exporters": EXPORTERS,
            "outcomes": dict(self.outcomes),
            "failures": self.failures,
            "latency_ms": {name: _percentiles(values) for name, values in self.latencies.items()},
        }


def run(service_url: str, token: str) -> dict[str, Any]:
    """The load's report; raises if anything that must hold did not."""
    tally = asyncio.run(_load(service_url, token))
    report = tally.report()
    if tally.failures:
        raise RuntimeError(f"the load test failed: {tally.failures[:5]}")
    return report


def printed(report: dict[str, Any]) -> str:
    lines = [f"load test: {report['exporters']} exporters, probes and summaries for {report['seconds']:g} s"]
    lines.append("  " + ", ".join(f"{name} {count}" for name, count in sorted(report["outcomes"].items())))
    for name, latency in sorted(report["latency_ms"].items()):
        lines.append(f"  {name:<28} n={latency['n']:<6} p50 {latency['p50']:8.1f} ms   p99 {latency['p99']:8.1f} ms")
    return "\n".join(lines)


async def _load(service_url: str, token: str) -> Tally:
    tally = Tally()
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    limits = httpx.Limits(max_connections=EXPORTERS + 10)
    async with httpx.AsyncClient(base_url=service_url, headers=headers, timeout=60, limits=limits) as client:
        filters = await _a_few_communities(client)
        summary = await client.get("/directmail-summary", params=filters)
        summary.raise_for_status()
        expected_rows = summary.json()["total"]
        deadline = time.monotonic() + SECONDS
        await asyncio.gather(
            *(_export_until(client, filters, deadline, expected_rows, tally) for _ in range(EXPORTERS)),
            _probe_until(client, deadline, tally),
            _summarise_until(client, filters, deadline, expected_rows, tally),
        )
    return tally


async def _a_few_communities(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.get("/communities")
    response.raise_for_status()
    names = [community["name"] for community in response.json() if "," not in community["name"]]
    return {"communities": ",".join(names[:COMMUNITIES])}


async def _export_until(
    client: httpx.AsyncClient, filters: dict[str, str], deadline: float, expected_rows: int, tally: Tally
) -> None:
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = await client.get("/directmail-csv", params=filters)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code == 200:
            tally.latencies["export (whole)"].append(elapsed)
            rows = response.content.count(b"\n") - 1
            tally.outcomes["exports whole"] += 1
            if rows != expected_rows:
                tally.failures.append(f"an export held {rows} rows, the summary counts {expected_rows}")
        elif response.status_code == 503 and "retry-after" in response.headers:
            tally.latencies["export refused (503)"].append(elapsed)
            tally.outcomes["exports refused"] += 1
            await asyncio.sleep(RETRY_SECONDS)
        else:
            tally.failures.append(f"an export got {response.status_code}")


async def _probe_until(client: httpx.AsyncClient, deadline: float, tally: Tally) -> None:
    while time.monotonic() < deadline:
        for path in ("/healthz", "/readyz"):
            started = time.perf_counter()
            response = await client.get(path)
            tally.latencies[path].append((time.perf_counter() - started) * 1000)
            tally.outcomes["probes"] += 1
            if response.status_code != 200:
                tally.failures.append(f"{path} answered {response.status_code}")
        await asyncio.sleep(0.02)


async def _summarise_until(
    client: httpx.AsyncClient, filters: dict[str, str], deadline: float, expected_rows: int, tally: Tally
) -> None:
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = await client.get("/directmail-summary", params=filters)
        tally.latencies["/directmail-summary"].append((time.perf_counter() - started) * 1000)
        tally.outcomes["summaries"] += 1
        if response.status_code != 200 or response.json()["total"] != expected_rows:
            tally.failures.append(f"a summary answered {response.status_code}")


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"n": len(values), "p50": values[0] if values else 0.0, "p99": values[0] if values else 0.0}
    return {"n": len(values), "p50": statistics.median(values), "p99": statistics.quantiles(values, n=100)[98]}
