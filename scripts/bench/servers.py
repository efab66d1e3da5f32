"""The processes `make bench` measures: our service and the FastAPI reference, each on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from config import PROJECT_ROOT

REFERENCE_COMMAND = [sys.executable, "-m", "uvicorn", "--factory", "scripts.bench.reference_app:create_app"]


@contextmanager
def our_service(database_url: str, **settings: str) -> Iterator[tuple[str, int]]:
    """`python run.py serve` as a deployment runs it (its log written and discarded, as a shipper takes it),
    in the local environment for its dev tokens; its URL and process id."""
    env = os.environ | {"ENVIRONMENT": "local", "DATABASE_URL": database_url} | settings
    with serving([sys.executable, "run.py", "serve"], env) as served:
        yield served


@contextmanager
def reference_app(database_url: str, **settings: str) -> Iterator[str]:
    env = os.environ | {"ENVIRONMENT": "local", "DATABASE_URL": database_url} | settings
    command = [*REFERENCE_COMMAND, "--log-level", "warning", "--no-access-log"]
    with serving(command, env, port_flag=True) as (url, _):
        yield url


@contextmanager
def serving(command: list[str], env: dict[str, str], *, port_flag: bool = False) -> Iterator[tuple[str, int]]:
    """A server on a free loopback port (PORT, or --port); its errors show."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    command = [*command, "--port", str(port)] if port_flag else command
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env | {"PORT": str(port)}, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start serving within {seconds:g} s")
