"""An Elastic APM intake server on loopback: it keeps what the agent sends, for tests to read."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeApmServer:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [event[kind] for event in self.events if kind in event]

    def _keep(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self.events.extend(events)


def _handler_for(apm: FakeApmServer) -> type[BaseHTTPRequestHandler]:
    class Intake(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the agent asks for the server's version first
            self._reply(200, b'{"version": "8.15.0"}')

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            encoding = self.headers.get("Content-Encoding")
            body = (
                gzip.decompress(raw) if encoding == "gzip" else zlib.decompress(raw) if encoding == "deflate" else raw
            )
            if self.path.startswith("/intake/v2/events"):
                apm._keep([json.loads(line) for line in body.splitlines() if line.strip()])
                self._reply(202, b"")
            else:
                self._reply(200, b"{}")

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            """Quiet."""

    return Intake
