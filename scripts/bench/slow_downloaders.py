"""The service's memory under many slow downloaders: `python run.py serve` as deployed, and 50 clients,
each its own caller, each reading its export at about 64 KB/s and asking again when refused, for a
minute; the server's RSS sampled throughout. It prints the peak and where it settled (the median of the
last 20 s). The README's memory target (200 MB) is the figure this checks.

    PYTHONPATH=. .venv/bin/python -m scripts.bench.slow_downloaders [--premises N] [SETTING=value ...]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from urllib.parse import urlsplit

import psycopg
from sqlalchemy import make_url

from app import MIGRATIONS
from app.demo_data import seed_demo
from config import Settings
from scripts.bench.csv_exports import SERVER_URL
from scripts.bench.servers import our_service, rss_mb
from servicekit import Database, load_settings
from servicekit.auth.dev_login import mint_dev_token

DOWNLOADERS = 50
SECONDS = 60.0
SETTLED_SECONDS = 20.0
READ_BYTES_PER_SECOND = 64 * 1024
CODINGS = ("identity", "gzip", "br", "zstd")  # each client its own, in turn
RETRY_SECONDS = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--premises", type=int, default=200_000)
    parser.add_argument("settings", nargs="*", help="SETTING=value for the service")
    args = parser.parse_args()
    database_url = memory_database(args.premises)
    settings = dict(setting.split("=", 1) for setting in args.settings)
    local = load_settings(Settings, environment="local")
    tokens = [
        mint_dev_token(local, roles=["Directmail.Read"], expires_in=3600, name=f"Downloader {n}")
        for n in range(DOWNLOADERS)
    ]
    with our_service(database_url, LOG_LEVEL="WARNING", **settings) as (url, pid):
        started = rss_mb(pid)
        samples, outcomes = _under_slow_downloaders(url, pid, tokens)
    settled = [rss for at, rss in samples if at >= SECONDS - SETTLED_SECONDS]
    print(f"{DOWNLOADERS} slow downloaders for {SECONDS:g} s, settings {settings or 'default'}")
    print(f"  RSS at start {started:.1f} MB, peak {max(rss for _, rss in samples):.1f} MB,")
    print(f"  settled {statistics.median(settled):.1f} MB (median of the last {SETTLED_SECONDS:g} s)")
    print(f"  responses: {dict(sorted(outcomes.items()))}")


def memory_database(premises: int) -> str:
    """A database of its own holding `premises` demo premises (seeded once)."""
    server = make_url(SERVER_URL).set(drivername="postgresql")
    url = server.set(database=f"directmail_memory_{premises}").render_as_string(hide_password=False)
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [make_url(url).database]).fetchone():
            admin.execute(f"CREATE DATABASE directmail_memory_{premises}")
            MIGRATIONS.upgrade(url)
            database = Database(url, MIGRATIONS, timeout_seconds=5, application_name="memory-bench")
            seed_demo(database.engine, premises)
            database.dispose()
    return url


def _under_slow_downloaders(url: str, pid: int, tokens: list[str]) -> tuple[list[tuple[float, float]], dict[str, int]]:
    started = time.monotonic()
    deadline = started + SECONDS
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def download(n: int) -> None:
        while time.monotonic() < deadline:
            status = _slow_download(url, tokens[n], CODINGS[n % len(CODINGS)], deadline)
            with lock:
                outcomes[status] = outcomes.get(status, 0) + 1
            if status != "200":
                time.sleep(RETRY_SECONDS)

    threads = [threading.Thread(target=download, args=(n,), daemon=True) for n in range(len(tokens))]
    for thread in threads:
        thread.start()
    samples = []
    while time.monotonic() < deadline:
        samples.append((time.monotonic() - started, rss_mb(pid)))
        time.sleep(0.5)
    for thread in threads:
        thread.join(timeout=10)
    return samples, outcomes


def _slow_download(url: str, token: str, coding: str, deadline: float) -> str:
    """One download read at READ_BYTES_PER_SECOND until it ends or the deadline; its status, or why not."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        head = (
            f"GET /directmail-csv HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Accept-Encoding: {coding}\r\nConnection: close\r\n\r\n"
        )
        connection.sendall(head.encode())
        try:
            first = connection.recv(4096)
            status = first.split(b" ", 2)[1].decode() if first.startswith(b"HTTP/") else "no answer"
            begun = time.monotonic()
            received = len(first)
            while time.monotonic() < deadline and (data := connection.recv(4096)):
                received += len(data)
                ahead = received / READ_BYTES_PER_SECOND - (time.monotonic() - begun)
                if ahead > 0:
                    time.sleep(ahead)
        except OSError as error:
            return type(error).__name__
    return status


if __name__ == "__main__":
    main()
