"""The container engine the checks drive, through its own command line: Docker where an engine answers
(GitLab CI's docker:dind), else podman, made ready by prepare_podman.sh. Containers run on the engine
host's network, so that the checks reach them the same way with either engine, dind included: at
`engine.host` and the ports they are told to listen on."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx

from config import PROJECT_ROOT

PREPARE_PODMAN = Path(__file__).with_name("prepare_podman.sh")
INSTALL_PACKAGES = PROJECT_ROOT / "scripts" / "install_packages.sh"
# The runtime image as the checks build it: one tag, so that each check reuses the other's layers.
RUNTIME_IMAGE = "directmail:image-check"


class EngineError(RuntimeError):
    """A command of the engine's failed: its words, not a traceback."""


@dataclass(frozen=True)
class Engine:
    program: str
    host: str

    @classmethod
    def ready(cls, *packages: str) -> Engine:
        """The engine to use, made ready; `packages`: Debian packages the caller also needs beside podman."""
        docker_host = os.environ.get("DOCKER_HOST", "")
        if docker_host and not shutil.which("docker"):  # a CI job's engine, and an image without its client
            subprocess.run([str(INSTALL_PACKAGES), "docker engine client", "docker.io"], check=True)
        if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
            return cls("docker", urlsplit(docker_host).hostname or "127.0.0.1")
        subprocess.run(["bash", str(PREPARE_PODMAN), *packages], check=True)
        return cls("podman", "127.0.0.1")

    @property
    def locked_down(self) -> list[str]:
        """As deploy/ runs the service and its migration Job: the image's own non-root user, nothing written
        but /tmp (an emptyDir there), no capability, no privilege to gain."""
        options = ["--user=10001:10001", "--read-only", "--tmpfs=/tmp:rw,size=64m", "--cap-drop=ALL"]
        # podman would also mount /run and /var/tmp writable on a read-only root; Kubernetes does not.
        extra = ["--read-only-tmpfs=false"] if self.program == "podman" else []
        return [*options, *extra, "--security-opt=no-new-privileges"]

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        completed = subprocess.run(
            [self.program, *args], capture_output=True, text=True, check=False, timeout=timeout, cwd=PROJECT_ROOT
        )
        if check and completed.returncode != 0:
            raise EngineError(f"{self.program} {' '.join(args[:2])}: {completed.stderr.strip()[-2000:]}")
        return completed.stdout.strip()

    def build(self, tag: str, target: str = "runtime") -> float:
        """Builds the Dockerfile's `target` as `tag`, unchanged; the seconds it took."""
        started = time.monotonic()
        # podman's default OCI format drops SHELL, and with it the stages' pipefail.
        docker_format = ["--format=docker"] if self.program == "podman" else []
        self("build", *docker_format, f"--target={target}", f"--tag={tag}", ".", timeout=1800)
        return time.monotonic() - started

    def run(self, name: str, image: str, *args: str, env: dict[str, str] | None = None, options: list[str]) -> str:
        """Starts `image` in the background on the host's network as `name`."""
        self("rm", "--force", name, check=False)
        return self("run", "--detach", f"--name={name}", "--network=host", *options, *_env(env or {}), image, *args)

    def run_to_end(
        self, image: str, *args: str, env: dict[str, str], options: list[str]
    ) -> subprocess.CompletedProcess[str]:
        """Runs `image` in the foreground, as a Job does; its exit code and output."""
        command = [self.program, "run", "--rm", "--network=host", *options, *_env(env), image, *args]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)

    def inspect(self, name: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(self("inspect", name))
        return found[0]

    def healthcheck_passes(self, name: str) -> bool:
        """The image's HEALTHCHECK, run now: podman 4.3 schedules it through systemd, which is absent here,
        and Docker runs it on its own schedule, so this waits for Docker's verdict."""
        if self.program == "podman":
            return subprocess.run([self.program, "healthcheck", "run", name], capture_output=True).returncode == 0
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = self.inspect(name)["State"].get("Health", {}).get("Status")
            if status in {"healthy", "unhealthy"}:
                return bool(status == "healthy")
            time.sleep(1)
        return False

    def remove(self, *names: str) -> None:
        at_once = ["--time=0"] if self.program == "podman" else []  # docker rm --force kills at once anyway
        for name in names:
            self("rm", "--force", *at_once, name, check=False)

    @contextmanager
    def containers(self, prefix: str) -> Iterator[Callable[[str], str]]:
        """Names for a run's containers (`prefix`-role), all removed at the end, whatever happened."""
        names: list[str] = []

        def named(role: str) -> str:
            names.append(f"{prefix}-{role}")
            return names[-1]

        try:
            yield named
        finally:
            self.remove(*names)

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def wait_until_answering(self, url: str, name: str, seconds: float = 60) -> None:
        """Until `url` answers at all; the container's log if it exits first."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=2)
                return
            except httpx.TransportError:
                if not self.inspect(name)["State"]["Running"]:
                    raise EngineError(f"{name} exited: {self('logs', '--tail=30', name, check=False)}") from None
                time.sleep(0.3)
        raise EngineError(f"{name}: {url} did not answer in {seconds:.0f} s")


def _env(environment: dict[str, str]) -> list[str]:
    return [f"--env={key}={value}" for key, value in environment.items()]


def run_check(check: str, main: Callable[[], int]) -> NoReturn:
    """Runs a check's `main` and exits with its status: an engine's failure is one line, not a traceback."""
    try:
        sys.exit(main())
    except EngineError as exc:
        print(f"{check}: FAILED: {exc}", file=sys.stderr)
        sys.exit(1)


def free_port() -> int:
    """A port free on this host now (the engine's host, unless that is a remote Docker engine)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
        return port
