"""Debian's HAProxy in front of the service's containers, as an ingress would be: health checks on /readyz,
a request that found no connection retried on another server, and what it sees, read off its stats socket."""

from __future__ import annotations

import csv
import io
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Ready after two good checks a second apart, out after two bad ones: about an ingress's pace. Only a
# connection that failed or a response that never began is retried: every operation here is a GET.
CONFIG = """\
global
    stats socket {folder}/stats.sock mode 600 level admin
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch
    retry-on conn-failure empty-response

frontend directmail
    bind 127.0.0.1:{port}
    default_backend services

backend services
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
{servers}
"""


@dataclass
class Balancer:
    port: int
    servers: dict[str, str]  # name: host:port
    transitions: list[tuple[float, str, str]] = field(default_factory=list)  # when, server, new status

    def __post_init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="directmail-haproxy-"))
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Balancer:
        servers = "\n".join(f"    server {name} {address} check" for name, address in self.servers.items())
        config = self._folder / "haproxy.cfg"
        config.write_text(CONFIG.format(folder=self._folder, port=self.port, servers=servers))
        self._process = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL)
        threading.Thread(target=self._watch, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._process.terminate()
        self._process.wait(10)

    def stats(self) -> dict[str, dict[str, str]]:
        """`show stat` by server name (and BACKEND, FRONTEND): HAProxy's own counters and states."""
        with socket.socket(socket.AF_UNIX) as stats:
            stats.connect(str(self._folder / "stats.sock"))
            stats.sendall(b"show stat\n")
            answer = b"".join(iter(lambda: stats.recv(65536), b""))
        rows = csv.DictReader(io.StringIO(answer.decode().lstrip("# ")))
        return {row["svname"]: row for row in rows if row["pxname"] == "services"}

    def all_up(self, seconds: float = 60) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if all(self.status(name) == "UP" for name in self.servers):
                    return True
            except OSError:  # not listening on its stats socket yet
                if self._process.poll() is not None:
                    raise RuntimeError(f"haproxy exited {self._process.returncode}") from None
            time.sleep(0.2)
        return False

    def status(self, server: str) -> str:
        return self.stats()[server]["status"].split()[0]

    def _watch(self) -> None:
        """Records each change of a server's state, as the load balancer saw it."""
        seen: dict[str, str] = {}
        while not self._stopped.wait(0.2):
            try:
                current = {name: self.status(name) for name in self.servers}
            except OSError:
                continue
            for name, status in current.items():
                if seen.get(name) != status:
                    self.transitions.append((time.monotonic(), name, status))
            seen = current
