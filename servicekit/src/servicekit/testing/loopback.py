"""Stand-in HTTP servers on loopback, for the peers a service talks to (Entra ID, Elastic APM, others)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LoopbackHandler", "LoopbackServer"]


class LoopbackHandler(BaseHTTPRequestHandler):
    """A request handler that reads and replies in one call each, and keeps quiet: tests read their own output."""

    def request_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        """Quiet."""


class LoopbackServer:
    """A threading HTTP server on a free loopback port, serving from a daemon thread once started."""

    def __init__(self, handler: type[LoopbackHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port: int = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
