"""`make bench`, the JSON part: Directmail's probe and summary beside the same endpoints in FastAPI
(`scripts/bench/reference_app.py`), each pair measured in the same run by the same load generator, wrk,
in interleaved rounds whose median counts.

- `/healthz` requests/s: wrk with 2 threads and 32 connections, as many as it can get through.
- `/healthz` p99 idle, and while 20 downloads are attempted from our service: one connection, one request
  at a time, as a Kubernetes probe asks (wrk cannot pace requests, so it asks again at once). The
  downloads load the machine for the reference's rounds too, so that both share the same 2 cores; only
  ours also serves them.
- `/directmail-summary` of one community, with a dev token: requests/s and p99 at 32 connections; once with
  summaries kept (SUMMARY_CACHE_ENTRIES's default) by both, once counted afresh by both (0).

    PYTHONPATH=. .venv/bin/python -m scripts.bench.json_endpoints
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from urllib.parse import quote

import httpx

from config import PROJECT_ROOT, Settings
from scripts.bench.csv_exports import downloads_in_flight
from scripts.bench.figures import Figure, printed
from scripts.bench.servers import our_service, reference_app
from servicekit import load_settings
from servicekit.auth.dev_login import mint_dev_token
from servicekit.testing import FakeApmServer

REFERENCE_NAME = "FastAPI"
ROUNDS = 3
SECONDS_PER_ROUND = 5
DOWNLOADS = 20
READ_ROLE = "Directmail.Read"
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Load:
    """What wrk measured in one round."""

    requests_per_second: float
    p99_ms: float


def figures(
    service_url: str,
    reference_url: str,
    token: str,
    start_downloads: Callable[[int], AbstractContextManager[None]],
) -> list[Figure]:
    """Ours (`service_url`) beside the reference, measured now; `start_downloads(n)` keeps n downloads
    from our service going while its block runs."""
    _ensure_wrk()
    health = _compare(service_url, reference_url, "/healthz", {}, connections=32)
    idle = _compare(service_url, reference_url, "/healthz", {}, connections=1)
    with start_downloads(DOWNLOADS):
        busy = _compare(service_url, reference_url, "/healthz", {}, connections=1)
    return [
        _figure("/healthz: requests/s", "req/s", health, "ratio >= 1.0"),
        _figure("/healthz idle: p99", "ms", idle, "< 10 ms"),
        _figure(f"/healthz during {DOWNLOADS} downloads: p99", "ms", busy, "< 10 ms"),
    ]


def summary_figures(service_url: str, reference_url: str, token: str, kept: str) -> list[Figure]:
    """`/directmail-summary` of one community, ours beside the reference, both serving summaries `kept`
    (as their SUMMARY_CACHE_ENTRIES has it)."""
    _ensure_wrk()
    path = f"/directmail-summary?communities={quote(_first_community(service_url, token))}"
    summary = _compare(service_url, reference_url, path, {"Authorization": f"Bearer {token}"}, connections=32)
    return [
        _figure(f"/directmail-summary, one community, {kept}: requests/s", "req/s", summary, "ratio >= 1.0"),
        _figure(f"/directmail-summary, one community, {kept}: p99", "ms", summary),
    ]


def _figure(name: str, unit: str, loads: tuple[Load, Load], target: str = "") -> Figure:
    """Requests/s (higher is better) or p99 in ms (lower is)."""
    ours, reference = loads
    if unit == "req/s":
        return Figure(name, ours.requests_per_second, reference.requests_per_second, REFERENCE_NAME, unit, True, target)
    return Figure(name, ours.p99_ms, reference.p99_ms, REFERENCE_NAME, unit, False, target)


def _compare(
    service_url: str, reference_url: str, path: str, headers: dict[str, str], *, connections: int
) -> tuple[Load, Load]:
    """Medians over interleaved rounds, so that drift in the machine's load falls on both alike."""
    ours: list[Load] = []
    reference: list[Load] = []
    for _ in range(ROUNDS):
        ours.append(wrk(service_url + path, headers, connections=connections))
        reference.append(wrk(reference_url + path, headers, connections=connections))
    return _median(ours), _median(reference)


def _median(loads: list[Load]) -> Load:
    return Load(
        statistics.median(load.requests_per_second for load in loads),
        statistics.median(load.p99_ms for load in loads),
    )


def wrk(url: str, headers: dict[str, str], *, connections: int, seconds: int = SECONDS_PER_ROUND) -> Load:
    """One wrk round; a non-2xx answer or a socket error fails the benchmark rather than flattering it."""
    threads = min(2, connections)
    # A request past wrk's default 2 s would count as a socket error: the reference's summary takes that long
    # at times under 32 connections on 2 cores.
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw failures on {url}:\n{output}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    if not (rate and p99):
        raise RuntimeError(f"wrk's output was not understood:\n{output}")
    return Load(float(rate[1]), float(p99[1]) * _UNITS_MS[p99[2]])


def _ensure_wrk() -> None:
    if not shutil.which("wrk"):
        subprocess.run([PROJECT_ROOT / "scripts" / "install_packages.sh", "make bench", "wrk"], check=True)


def _first_community(service_url: str, token: str) -> str:
    response = httpx.get(f"{service_url}/communities", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    name: str = response.json()[0]["name"]
    return name


SUMMARIES_KEPT = "kept"
SUMMARIES_COUNTED = "counted afresh"


def summaries_counted_afresh(database_url: str, token: str, **settings: str) -> list[Figure]:
    """The summary's figures with no summary kept, by either."""
    afresh = settings | {"SUMMARY_CACHE_ENTRIES": "0"}
    with our_service(database_url, **afresh) as (service_url, _), reference_app(database_url, **afresh) as reference:
        return summary_figures(service_url, reference, token, SUMMARIES_COUNTED)


# --- Running on its own: our service and the reference, side by side ---------------------------------


def main() -> None:
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/directmail_bench")
    token = mint_dev_token(load_settings(Settings, environment="local"), roles=[READ_ROLE], expires_in=3600)
    apm = FakeApmServer()  # logging, validation and APM all on, as deployed
    try:
        with (
            our_service(database_url, LOG_LEVEL="INFO", ELASTIC_APM_SERVER_URL=apm.url) as (service_url, _),
            reference_app(database_url) as reference_url,
        ):
            found = figures(service_url, reference_url, token, partial(downloads_in_flight, service_url, token))
            found += summary_figures(service_url, reference_url, token, SUMMARIES_KEPT)
        found += summaries_counted_afresh(database_url, token, ELASTIC_APM_SERVER_URL=apm.url)
    finally:
        apm.stop()
    print(printed(found))


if __name__ == "__main__":
    main()
