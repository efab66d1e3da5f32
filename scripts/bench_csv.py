"""`make bench`, the CSV part: the service's export of 1,000,000 premises beside psql's `\\copy` of the
same query, measured in the same run, with the ratio of each figure.

The service runs as `python run.py serve` (local environment, dev login) against PostgreSQL; psql's
figures are the floor: the database producing the CSV with nothing in between.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import brotli
import httpx
import psycopg
from sqlalchemy import create_engine, func, make_url, select
from sqlalchemy.dialects import postgresql

from app import MIGRATIONS
from app.data_queries import mailing_list
from app.data_types import ExportFilters
from app.demo_data import seed_demo
from app.models import Premises
from config import PROJECT_ROOT, Settings
from servicekit import load_settings
from servicekit.auth.dev_login import mint_dev_token

PREMISES = 1_000_000
PSQL_COPY = "psql \\copy"
SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SCENARIOS = {
    "full export": ({}, ExportFilters()),
    "filtered (rfs, S1+S2, not business)": (
        {"rfs": "true", "segments": "S1,S2", "business": "false"},
        ExportFilters(rfs=True, segments=("S1", "S2"), business=False),
    ),
}


@dataclass
class Run:
    seconds: float
    first_byte_seconds: float
    csv_bytes: int
    wire_bytes: int
    rows: int
    rss_growth_mb: float | None = None
    peak_rss_mb: float | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def mb_per_second(self) -> float:
        return self.csv_bytes / self.seconds / 1e6


def bench_database() -> str:
    """A PostgreSQL database holding the 1,000,000 demo premises (made once, then reused)."""
    server = make_url(SERVER_URL).set(drivername="postgresql")
    url = server.set(database="directmail_bench").render_as_string(hide_password=False)
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = 'directmail_bench'").fetchone():
            admin.execute("CREATE DATABASE directmail_bench")
    MIGRATIONS.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        if connection.scalar(select(func.count()).select_from(Premises)) != PREMISES:
            print(f"seeding {PREMISES:,} premises ...", flush=True)
            seed_demo(connection, PREMISES)
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return url


@contextmanager
def service(database_url: str) -> Iterator[tuple[str, int]]:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    env = os.environ | {
        "ENVIRONMENT": "local",
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "EXPORT_CONCURRENCY": "4",
    }
    process = subprocess.Popen([sys.executable, "run.py", "serve"], cwd=PROJECT_ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        if not _ready(url):
            raise RuntimeError("the service did not become ready within 30 s")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def service_run(url: str, pid: int, token: str, params: dict[str, str], encoding: str) -> Run:
    peak = rss_mb(pid)
    rss_at_100k: float | None = None
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": encoding}
    started = time.perf_counter()
    first = None
    csv_bytes = rows = 0
    with httpx.stream("GET", f"{url}/directmail-csv", params=params, headers=headers, timeout=300) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            first = first or time.perf_counter() - started
            csv_bytes += len(chunk)
            rows += chunk.count(b"\n")
            peak = max(peak, rss_mb(pid))
            if rss_at_100k is None and rows >= 100_000:
                rss_at_100k = rss_mb(pid)
        wire = response.num_bytes_downloaded
    end_rss = rss_mb(pid)
    growth = end_rss - rss_at_100k if rss_at_100k is not None else None
    return Run(time.perf_counter() - started, first or 0.0, csv_bytes, wire, rows - 1, growth, peak)


def psql_run(database_url: str, filters: ExportFilters, brotli_quality: int | None) -> Run:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    statement = mailing_list(filters).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True, "render_postcompile": True}
    )
    sql = " ".join(str(statement).split())
    command = ["psql", database_url, "-XAtq", "-c", f"\\copy ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)"]
    compressor = brotli.Compressor(quality=brotli_quality) if brotli_quality is not None else None
    started = time.perf_counter()
    first = None
    csv_bytes = wire = rows = 0
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        while chunk := os.read(process.stdout.fileno(), 65536):
            first = first or time.perf_counter() - started
            csv_bytes += len(chunk)
            rows += chunk.count(b"\n")
            wire += len(compressor.process(chunk)) if compressor else len(chunk)
    if compressor:
        wire += len(compressor.finish())
    return Run(time.perf_counter() - started, first or 0.0, csv_bytes, wire, rows - 1)


def report(name: str, ours: Run, reference: Run) -> None:
    print(f"\n{name}: {ours.rows:,} rows, {ours.csv_bytes / 1e6:.1f} MB of CSV, {ours.wire_bytes / 1e6:.1f} MB sent")
    print(f"  {'':<22}{'service':>12}{PSQL_COPY:>14}{'ratio':>9}")
    for label, value, reference_value in (
        ("rows/s", ours.rows_per_second, reference.rows_per_second),
        ("MB/s (CSV)", ours.mb_per_second, reference.mb_per_second),
        ("first byte (ms)", ours.first_byte_seconds * 1000, reference.first_byte_seconds * 1000),
        ("total (s)", ours.seconds, reference.seconds),
    ):
        print(f"  {label:<22}{value:>12,.1f}{reference_value:>14,.1f}{value / reference_value:>9.2f}")
    if ours.peak_rss_mb is not None:
        growth = f"{ours.rss_growth_mb:+.1f} MB" if ours.rss_growth_mb is not None else "n/a"
        print(f"  server peak RSS {ours.peak_rss_mb:.0f} MB; growth from row 100,000 to the last: {growth}")


def main() -> None:
    database_url = bench_database()
    settings = load_settings(Settings, environment="local")
    token = mint_dev_token(settings, roles=["Directmail.Read"], expires_in=3600)
    with service(database_url) as (url, pid):
        for name, (params, filters) in SCENARIOS.items():
            # The reference compresses psql's output at the service's own brotli quality.
            for encoding, quality in (("identity", None), ("br", settings.compression_quality)):
                ours = service_run(url, pid, token, params, encoding)
                reference = psql_run(database_url, filters, quality)
                assert ours.rows == reference.rows, (ours.rows, reference.rows)
                report(f"{name}, {encoding}", ours, reference)


if __name__ == "__main__":
    main()
