"""uvicorn serving a service, with a shutdown that Kubernetes can drain."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn

from servicekit.app import ServiceApp
from servicekit.http_limits import HeadLimitedConfig, HeadLimits
from servicekit.internals.uvicorn import Server
from servicekit.lifecycle import Lifecycle
from servicekit.settings import ServiceSettings


class DrainingServer(Server):
    """On SIGTERM, readiness fails at once while the server keeps serving for the drain period, so
    Kubernetes takes the pod out of its Service before uvicorn stops accepting connections; then
    uvicorn's own graceful shutdown lets in-flight downloads finish. A second signal skips the drain."""

    def __init__(self, config: uvicorn.Config, *, lifecycle: Lifecycle, drain_seconds: float) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_seconds = drain_seconds
        self._drain: threading.Timer | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            # uvicorn raises the signals it caught again once it has stopped, so a SIGTERM exits 143. A
            # SIGTERM is how Kubernetes asks for the graceful stop that has just ended: exit 0 for it. Which
            # signals uvicorn re-raises is its internal (servicekit.internals.uvicorn).
            self._captured_signals = [sig for sig in self._captured_signals if sig != signal.SIGTERM]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is None and self.drain_seconds > 0 and sig == signal.SIGTERM:
            self.lifecycle.begin_shutdown()
            self._drain = threading.Timer(self.drain_seconds, super().handle_exit, (sig, frame))
            self._drain.daemon = True
            self._drain.start()
            return
        if self._drain is not None:
            self._drain.cancel()
        self.lifecycle.begin_shutdown()
        super().handle_exit(sig, frame)


def uvicorn_config(app: object, settings: ServiceSettings) -> uvicorn.Config:
    return HeadLimitedConfig(
        app,
        head_limits=HeadLimits.from_settings(settings),
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        access_log=False,  # servicekit/middleware/access_log.py writes the one access line
        log_config=None,  # servicekit/logs.py has configured logging already
        server_header=False,
    )


def _freeze_what_starting_made() -> None:
    """Out of the cyclic collector's sight for good: the modules, the spec, the app. A full collection
    holds the GIL, and with it every probe, for as long as it takes to scan what it tracks: 100 ms and
    more with all that in, a tenth of that without."""
    gc.collect()  # what starting left as garbage is freed, not frozen
    gc.freeze()


def run_server(app: ServiceApp, settings: ServiceSettings) -> None:
    """Serve `app` until SIGTERM or SIGINT, then drain and stop.

    On HOST:PORT, or on the listening socket inherited as file descriptor SERVICEKIT_LISTEN_FD when that
    is set: the kit's `ServiceProcess` binds port 0 and hands its socket over, so no port is raced for."""
    lifecycle = app.parts.get(Lifecycle)
    server = DrainingServer(
        uvicorn_config(app, settings), lifecycle=lifecycle, drain_seconds=settings.shutdown_drain_seconds
    )
    inherited = os.environ.get("SERVICEKIT_LISTEN_FD")
    _freeze_what_starting_made()
    server.run(sockets=[socket.socket(fileno=int(inherited))] if inherited else None)
