"""`make bench`, the CSV part: the service's export of 1,000,000 premises beside two `psql` runs of the
whole list in one sorted statement (what someone with psql would run), in alternating rounds, with medians:
`\\copy` of the same bytes (the statement the export's bytes are defined by) and `\\copy` of the same columns
unformatted (what PostgreSQL's own limit is for these rows).

The table is measured in four layouts, as data lies in the world (`LAYOUTS`): in arrival (UPRN) order,
each community's premises spread over the whole heap; the same after a month's churn, before any vacuum;
that churned table once vacuumed, as autovacuum leaves it; and clustered by community, the flattering case.

Our exports are read by curl, which decodes nothing: what it counts is what went over the wire. One
export at a time, in each coding, full and filtered; then ten at once beside ten psql runs at once, with
the server's memory sampled throughout and an eleventh export refused meanwhile.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import psycopg
from sqlalchemy import create_engine, make_url
from sqlalchemy.dialects import postgresql

from app import MIGRATIONS
from app.data_queries import AnySelect, mailing_list
from app.data_types import ExportFilters
from app.demo_data import seed_demo
from app.models import Community, Premises
from scripts.bench.figures import Figure
from scripts.bench.servers import rss_mb

PREMISES = 1_000_000
PSQL = "psql \\copy"
SAME_BYTES = "psql \\copy, same bytes"
PLAIN = "psql \\copy, plain columns"
ARRIVAL, CHURNED, VACUUMED, CLUSTERED = "arrival order", "after churn", "churned, vacuumed", "clustered"
LAYOUTS = (ARRIVAL, CHURNED, VACUUMED, CLUSTERED)  # in this order: each is made from the one before
# A month of an address register's changes, spread over the whole table as they come: 10% of premises
# reclassified, 0.5% demolished, 2% newly built (new UPRNs, written at the table's end). Only analysed
# afterwards, as autoanalyze would: the dead rows and the visibility map stay as the writes left them,
# as they are until autovacuum next comes round (this server runs none).
CHURN = (
    "UPDATE premises SET segment = CASE segment WHEN 'S5' THEN 'S1' ELSE 'S' || (right(segment, 1)::int + 1) END,"
    " bduk = NOT bduk WHERE uprn % 10 = 7",
    "DELETE FROM premises WHERE uprn % 200 = 3",
    "INSERT INTO premises SELECT uprn + 10000000, address_line_1, address_line_2, address_line_3, town, postcode,"
    " business, bduk, segment, community_id, location FROM premises WHERE uprn % 50 = 1",
    "ANALYZE premises",
)
ROUNDS = 3
CONCURRENT = 10
SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
Params = dict[str, str | list[str]]
SCENARIOS: dict[str, tuple[Params, ExportFilters]] = {
    "full export": ({}, ExportFilters()),
    "filtered export": (
        {"rfs": "true", "segments": "S1,S2", "business": "false"},
        ExportFilters(rfs=True, segments=("S1", "S2"), business=False),
    ),
    "three communities": (
        {"communities": ["Winson", "Bishop's Castle", "Tŷ Croes"]},
        ExportFilters(communities=("Winson", "Bishop's Castle", "Tŷ Croes")),
    ),
    "one date range": (
        {"rfs_date_after": "2018-01-01", "rfs_date_before": "2022-01-01"},
        ExportFilters(rfs_date_after=dt.date(2018, 1, 1), rfs_date_before=dt.date(2022, 1, 1)),
    ),
}
FULL = "full export"
# The targets of issues 11 and 29, as ratios to psql's rate: of the plain columns, and of the same bytes.
PLAIN_RATE_TARGETS = {"identity": ">= 0.9", "br": ">= 0.9", "zstd": ">= 0.9", "gzip": ">= 0.7"}
SAME_BYTES_TARGET = ">= 1.0"
WIRE_TARGETS = {"br": "<= 0.25"}


@dataclass(frozen=True)
class Run:
    seconds: float
    first_byte_seconds: float
    bytes: int


def bench_database() -> str:
    """A migrated PostgreSQL database for the benchmark (made once, then reused); `lay_out` fills it."""
    server = make_url(SERVER_URL).set(drivername="postgresql")
    url = server.set(database="directmail_bench").render_as_string(hide_password=False)
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = 'directmail_bench'").fetchone():
            admin.execute("CREATE DATABASE directmail_bench")
    MIGRATIONS.upgrade(url)
    return url


def lay_out(database_url: str, layout: str) -> None:
    """The premises as `layout` has them, made from the layout before it in LAYOUTS."""
    print(f"laying out {PREMISES:,} premises: {layout} ...", flush=True)
    if layout == ARRIVAL:  # seeded in UPRN order, each community's premises all over the heap; vacuumed
        engine = create_engine(database_url)
        seed_demo(engine, PREMISES)
        engine.dispose()
        return
    statements = {
        CHURNED: CHURN,
        VACUUMED: ("VACUUM (ANALYZE) premises",),  # as autovacuum leaves it in production (migration 0008)
        CLUSTERED: ("CLUSTER premises USING premises_export", "VACUUM (ANALYZE) premises"),
    }[layout]
    with psycopg.connect(database_url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement.encode())


def postgresql_version(database_url: str) -> str:
    with psycopg.connect(database_url) as connection:
        return str(connection.info.parameter_status("server_version"))


def one_at_a_time(service_url: str, database_url: str, token: str, layout: str) -> list[Figure]:
    return [figure for name in SCENARIOS for figure in _scenario(name, service_url, database_url, token, layout)]


def _scenario(scenario: str, service_url: str, database_url: str, token: str, layout: str) -> list[Figure]:
    params, filters = SCENARIOS[scenario]
    codings = list(PLAIN_RATE_TARGETS) if scenario == FULL else ["identity", "br", "zstd"]
    same_bytes: list[Run] = []
    plain: list[Run] = []
    ours: dict[str, list[Run]] = {coding: [] for coding in codings}
    rows = 0
    for _ in range(ROUNDS):
        run, rows = psql_run(psql_command(database_url, mailing_list(filters)))
        same_bytes.append(run)
        plain.append(psql_run(psql_command(database_url, plain_columns(filters)))[0])
        for coding, runs in ours.items():
            runs.append(curl_run(service_url, token, params, coding))
    reference, limit = _median(same_bytes), _median(plain)
    name = f"{layout}, {scenario}"

    def rate(coding: str, psql: Run, psql_name: str, target: str) -> Figure:
        run = _median(ours[coding])
        return Figure(
            f"{name}, {coding}: rows/s", rows / run.seconds, rows / psql.seconds, psql_name, "rows/s", True, target
        )

    found = [rate("identity", reference, SAME_BYTES, SAME_BYTES_TARGET)]
    found += [rate(coding, limit, PLAIN, PLAIN_RATE_TARGETS[coding]) for coding in codings]
    found.append(first_byte(f"{name}: first byte", _median(ours["identity"]), limit))
    if scenario == FULL:
        brotli = _median(ours["br"])
        found.append(
            Figure(
                f"{name}, br: bytes sent",
                brotli.bytes / 1e6,
                reference.bytes / 1e6,
                f"{PSQL} CSV",
                "MB",
                False,
                WIRE_TARGETS["br"],
            )
        )
    return found


def first_byte(name: str, ours: Run, psql: Run) -> Figure:
    """Our first byte beside psql's whole run (of the plain columns)."""
    return Figure(name, ours.first_byte_seconds * 1000, psql.seconds * 1000, f"{PLAIN}, all", "ms", False, "< 0.05")


def plain_columns(filters: ExportFilters) -> AnySelect:
    """The mailing list's statement with its columns as they are stored: no formatting at all."""
    columns = (
        Premises.uprn,
        Premises.address_line_1,
        Premises.address_line_2,
        Premises.address_line_3,
        Premises.town,
        Premises.postcode,
        Community.name,
        Community.rfs,
        Community.rfs_date,
        Premises.business,
        Premises.bduk,
        Premises.segment,
    )
    return mailing_list(filters).with_only_columns(*columns, maintain_column_froms=False)


def psql_run(command: list[str]) -> tuple[Run, int]:
    """A psql run, its output read as it arrives; and how many rows it held."""
    started = time.perf_counter()
    first = 0.0
    size = newlines = 0
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        while chunk := os.read(process.stdout.fileno(), 1 << 16):
            first = first or time.perf_counter() - started
            size += len(chunk)
            newlines += chunk.count(b"\n")
    return Run(time.perf_counter() - started, first, size), newlines - 1


def psql_command(database_url: str, statement: AnySelect) -> list[str]:
    """psql's \\copy of `statement`, as CSV with a header."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    compile_kwargs = {"literal_binds": True, "render_postcompile": True}
    sql = " ".join(str(statement.compile(dialect=dialect, compile_kwargs=compile_kwargs)).split())
    return ["psql", database_url, "-XAtq", "-c", f"\\copy ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)"]


def curl_run(service_url: str, token: str, params: Params, coding: str) -> Run:
    output = subprocess.run(
        curl_command(service_url, token, params, coding), capture_output=True, text=True, check=True
    )
    first, total, size = output.stdout.split()
    return Run(float(total), float(first), int(size))


def curl_command(service_url: str, token: str, params: Params, coding: str) -> list[str]:
    """curl fetching an export to /dev/null (decoding nothing) and printing its first byte, time and size;
    it exits 22 when refused."""
    query = urlencode(params, doseq=True)
    command = ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{time_starttransfer} %{time_total} %{size_download}"]
    command += ["-H", f"Authorization: Bearer {token}", "-H", f"Accept-Encoding: {coding}"]
    return [*command, f"{service_url}/directmail-csv?{query}"]


@contextmanager
def downloads_in_flight(service_url: str, token: str, count: int) -> Iterator[None]:
    """`count` clients downloading the full CSV from our service (curl, so that the load costs the bench's
    own process nothing), each starting again when its download ends; one turned away (503) retries a
    second later. Downloads still under way when the block ends are cut off."""
    stop = threading.Event()
    clients = [threading.Thread(target=_download_until, args=(service_url, token, stop)) for _ in range(count)]
    for client in clients:
        client.start()
    try:
        yield
    finally:
        stop.set()
        for client in clients:
            client.join()


def _download_until(service_url: str, token: str, stop: threading.Event) -> None:
    command = curl_command(service_url, token, {}, "identity")
    while not stop.is_set():
        with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as curl:
            while curl.poll() is None and not stop.wait(0.05):
                pass
            if curl.poll() is None:
                curl.terminate()
        if curl.returncode == 22:
            stop.wait(1)


def _median(runs: list[Run]) -> Run:
    return Run(
        statistics.median(run.seconds for run in runs),
        statistics.median(run.first_byte_seconds for run in runs),
        int(statistics.median(run.bytes for run in runs)),
    )


def many_at_once(service_url: str, pid: int, database_url: str, token: str) -> list[Figure]:
    """Ten full exports at once beside ten psql runs at once; the service's RSS sampled throughout, beside
    its peak over one export first (a fresh service's, or the memory other codings left would count); an
    eleventh export asked for meanwhile, beside /healthz asked at the same moments."""
    full = ExportFilters()
    started = time.perf_counter()
    command = psql_command(database_url, mailing_list(full))
    psql_processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(CONCURRENT)]
    for process in psql_processes:
        process.wait()
    psql_seconds = time.perf_counter() - started
    one_export_peak = _peak_rss(pid, lambda: curl_run(service_url, token, {}, "identity"))
    refusals: list[float] = []
    probes: list[float] = []

    def ten_exports() -> None:
        with _exports_running(service_url, token, CONCURRENT):
            _refusals_and_probes(service_url, token, refusals, probes)

    started = time.perf_counter()
    ten_peak = _peak_rss(pid, ten_exports)
    ours_seconds = time.perf_counter() - started
    return [
        Figure(
            f"{CONCURRENT} full exports at once: seconds",
            ours_seconds,
            psql_seconds,
            f"{CONCURRENT} x {PSQL}",
            "s",
            False,
            "<= 1.25",
        ),
        Figure(
            f"server RSS peak, {CONCURRENT} exports at once",
            ten_peak,
            one_export_peak,
            "1 export",
            "MB",
            False,
            "< 200 MB",
        ),
        Figure(
            f"a refusal past {CONCURRENT} exports: p50",
            statistics.median(refusals),
            statistics.median(probes),
            "/healthz then",
            "ms",
            False,
            "< 50 ms",
        ),
        Figure(
            f"a refusal past {CONCURRENT} exports: p99",
            _p99(refusals),
            _p99(probes),
            "/healthz then",
            "ms",
            False,
            "< 50 ms",
        ),
    ]


@contextmanager
def _exports_running(service_url: str, token: str, count: int) -> Iterator[None]:
    """`count` full exports under way until each ends (the block waits for them)."""
    threads = [threading.Thread(target=curl_run, args=(service_url, token, {}, "identity")) for _ in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # every slot taken
    yield
    for thread in threads:
        thread.join()


def _refusals_and_probes(service_url: str, token: str, refusals: list[float], probes: list[float]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=service_url, timeout=30) as client:
        for _ in range(50):
            started = time.perf_counter()
            refused = client.get("/directmail-csv", headers=headers)
            refusals.append((time.perf_counter() - started) * 1000)
            if refused.status_code != 503 or "retry-after" not in refused.headers:
                raise RuntimeError(f"an export past the limit got {refused.status_code}, not 503 with Retry-After")
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            probes.append((time.perf_counter() - started) * 1000)


def _peak_rss(pid: int, work: Callable[[], object]) -> float:
    """The service's peak RSS (MB) while `work` runs, sampled every 50 ms."""
    peak = rss_mb(pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, rss_mb(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join()
    return peak


def _p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]
