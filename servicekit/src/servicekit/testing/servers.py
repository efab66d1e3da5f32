"""Real servers for tests: the app on uvicorn in a thread, or the service in a process of its own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from servicekit.internals.uvicorn import Server
from servicekit.server import uvicorn_config
from servicekit.settings import ServiceSettings


def eventually(condition: Callable[[], bool], seconds: float = 10) -> bool:
    """Whether `condition` holds within `seconds`, asked every few milliseconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class LiveServer:
    """A real uvicorn serving an app on a free loopback port, in a thread of the test process."""

    def __init__(self, app: ASGIApp, settings: ServiceSettings) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        host, port = self.socket.getsockname()
        self.url = f"http://{host}:{port}"
        self.server = Server(uvicorn_config(app, settings))  # its `started` and `should_exit` are internals
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the live server failed to start")
            threading.Event().wait(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


class ServiceProcess:
    """The service as its deployment runs it (`python run.py serve`, say), on a free port, its output kept.

    The port is never raced for: this process binds port 0 and the service inherits the listening socket
    (SERVICEKIT_LISTEN_FD, which `servicekit.server.run_server` serves on)."""

    def __init__(self, command: Sequence[str], *, cwd: Path, env: dict[str, str]) -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            self.process = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=env | {"PORT": str(port), "SERVICEKIT_LISTEN_FD": str(listener.fileno())},
                pass_fds=[listener.fileno()],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.output = ""

    def wait_until_live(self, seconds: float = 30) -> ServiceProcess:
        if eventually(self._answers_or_exited, seconds) and self.process.poll() is None:
            return self
        self.process.kill()
        raise RuntimeError(f"the service did not start:\n{self.process.communicate()[0]}")

    def _answers_or_exited(self) -> bool:
        if self.process.poll() is not None:
            return True
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 30) -> str:
        """SIGTERM, as Kubernetes stops a pod; the whole output once the process has exited."""
        self.process.send_signal(signal.SIGTERM)
        self.output, _ = self.process.communicate(timeout=timeout)
        return self.output

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def environment_without(*prefixes: str) -> dict[str, str]:
    """This process's environment less the variables starting with any of `prefixes`."""
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


@dataclass
class LoggedServer:
    """A live server whose app logs JSON lines to the test's captured stdout, and what it has written."""

    url: str
    capsys: pytest.CaptureFixture[str]
    lines: list[dict[str, Any]] = field(default_factory=list)

    def logged(self) -> list[dict[str, Any]]:
        """Every line written so far."""
        out = self.capsys.readouterr().out
        self.lines += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return self.lines

    def lines_of(self, logger: str) -> list[dict[str, Any]]:
        return [line for line in self.logged() if line["log"]["logger"] == logger]

    def audit_events(self) -> list[dict[str, Any]]:
        return self.lines_of("servicekit.audit")

    def access_lines(self) -> list[dict[str, Any]]:
        return self.lines_of("servicekit.access")

    def the_audit_event(self) -> dict[str, Any]:
        """The one audit event the server writes, once it has written it."""
        return self._the_one(self.audit_events)

    def the_access_line(self) -> dict[str, Any]:
        """The one access line the server writes, once it has written it: after the audit event, when the
        request's end reaches the access log later than the download's end reaches the audit."""
        return self._the_one(self.access_lines)

    @staticmethod
    def _the_one(written: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
        assert eventually(lambda: bool(written()))
        lines = written()
        assert len(lines) == 1, lines
        return lines[0]
