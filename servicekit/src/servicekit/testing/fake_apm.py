"""An Elastic APM intake server on loopback: it keeps what the agent sends, for tests to read."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from typing import Any

from servicekit.testing.loopback import LoopbackHandler, LoopbackServer


class FakeApmServer:
    """An Elastic APM intake server on loopback, keeping the events the agent sends (`events`)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.server = LoopbackServer(_handler_for(self)).start()
        self.url = self.server.url

    def stop(self) -> None:
        self.server.stop()

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [event[kind] for event in self.events if kind in event]

    def _keep(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self.events.extend(events)


def _handler_for(apm: FakeApmServer) -> type[LoopbackHandler]:
    class Intake(LoopbackHandler):
        def do_GET(self) -> None:  # the agent asks for the server's version first
            self.reply(200, b'{"version": "8.15.0"}')

        def do_POST(self) -> None:
            raw = self.request_body()
            encoding = self.headers.get("Content-Encoding")
            body = (
                gzip.decompress(raw) if encoding == "gzip" else zlib.decompress(raw) if encoding == "deflate" else raw
            )
            if self.path.startswith("/intake/v2/events"):
                apm._keep([json.loads(line) for line in body.splitlines() if line.strip()])
                self.reply(202, b"")
            else:
                self.reply(200, b"{}")

    return Intake
