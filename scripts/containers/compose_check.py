"""`make compose-check`: both compose files started as their users start them, through a Docker API.

- `docker-compose.yml`: PostGIS, the one-off migration and the service come up in order, and the README's
  curl, with a token from `compose exec app python run.py token`, saves the CSV.
- `docker-compose.test.yml` (with `--suite`): `make test` in the image's test stage against PostGIS and its
  streaming replica; its exit code is the check's.

Where no Docker engine answers, Debian's docker-compose (1.29) drives podman's Docker API. It refuses the
top-level `name:` key, which Compose v2 reads: it gets a copy of each file without it, and the name as `-p`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from config import PROJECT_ROOT
from scripts.containers.engine import Engine, EngineError, run_check
from scripts.readme_curl import readme_curl


def say(line: str) -> None:
    print(f"compose-check: {line}", flush=True)


@contextmanager
def docker_api(engine: Engine) -> Iterator[dict[str, str]]:
    """The environment that points compose at a Docker API: the engine's own, or podman's, served meanwhile."""
    if engine.program == "docker":
        yield dict(os.environ)
        return
    with tempfile.TemporaryDirectory() as folder:
        socket = Path(folder, "podman.sock")
        # Quiet: it logs an error each time it cannot reach systemd for a container's health-check timer.
        service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{socket}"], stderr=subprocess.DEVNULL
        )
        try:
            while not socket.exists():
                time.sleep(0.1)
            with podman_healthchecks_scheduled():
                yield os.environ | {"DOCKER_HOST": f"unix://{socket}", "COMPOSE_HTTP_TIMEOUT": "600"}
        finally:
            service.terminate()
            service.wait(30)


@contextmanager
def podman_healthchecks_scheduled(every_seconds: float = 2) -> Iterator[None]:
    """Runs every running container's HEALTHCHECK, as Docker would: podman 4.3 leaves that to systemd
    timers, and there is no systemd here, so `service_healthy` would wait for ever."""
    stopped = threading.Event()

    def schedule() -> None:
        while not stopped.wait(every_seconds):
            names = subprocess.run(["podman", "ps", "--format={{.Names}}"], capture_output=True, text=True).stdout
            for name in names.split():
                subprocess.run(["podman", "healthcheck", "run", name], capture_output=True, check=False)

    scheduler = threading.Thread(target=schedule, daemon=True)
    scheduler.start()
    try:
        yield
    finally:
        stopped.set()
        scheduler.join()


def with_local_kubectl(definition: dict[str, Any]) -> dict[str, Any]:
    """The test service gets this host's kubectl, which the manifests tests render with, where it has one:
    a machine without a registry reaches no Kubernetes download site either (scripts/check_manifests.sh)."""
    kubectl = shutil.which("kubectl")
    if kubectl and "test" in definition["services"]:
        volumes = definition["services"]["test"].setdefault("volumes", [])
        volumes.append(f"{os.path.realpath(kubectl)}:/usr/local/bin/kubectl:ro")
    return definition


class Stack:
    """One compose file's project, run by the compose program the engine goes with."""

    def __init__(self, engine: Engine, file: str, environment: dict[str, str], folder: Path) -> None:
        definition = yaml.safe_load((PROJECT_ROOT / file).read_text())
        self.project = definition.pop("name")
        if engine.program == "docker":
            self.command = ["docker", "compose", "-f", str(PROJECT_ROOT / file)]
        else:
            copy = folder / file
            copy.write_text(yaml.safe_dump(with_local_kubectl(definition), sort_keys=False))
            self.command = ["docker-compose", "--project-directory", str(PROJECT_ROOT), "-f", str(copy)]
        self.command += ["-p", self.project]
        self.environment = environment

    def __call__(self, *args: str, timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [*self.command, *args],
            cwd=PROJECT_ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and completed.returncode != 0:
            raise EngineError(f"compose {' '.join(args)}: {(completed.stderr or completed.stdout).strip()[-3000:]}")
        return completed

    def logs(self) -> str:
        return self("logs", "--no-color", "--tail=25", check=False).stdout

    def down(self) -> None:
        self("down", "--volumes", "--remove-orphans", "--timeout=40", check=False)


def bring_up(engine: Engine, stack: Stack) -> None:
    """`up --build`, as a developer starts the stack; then the one-off migration must have exited 0."""
    started = time.monotonic()
    stack("up", "--detach", "--build")
    say(f"docker-compose.yml up in {time.monotonic() - started:.0f} s (built, PostGIS healthy, migrated, serving)")
    migrate = stack("ps", "--all", "migrate").stdout if engine.program == "docker" else stack("ps", "migrate").stdout
    if "Exit 0" not in migrate and "exited (0)" not in migrate.lower():
        raise EngineError(f"the migrate service did not exit 0: {migrate}")


def check_developer_stack(engine: Engine, stack: Stack) -> None:
    bring_up(engine, stack)
    token = stack("exec", "-T", "app", "python", "run.py", "token").stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        curl = [*readme_curl(token, engine.url(8080)), "--fail-with-body", "-sS"]
        for _ in range(30):  # the service answers a few seconds after it is up
            completed = subprocess.run(curl, cwd=folder, capture_output=True, text=True)
            if completed.returncode == 0:
                break
            time.sleep(1)
        if completed.returncode != 0:
            raise EngineError(f"the README's curl failed against the compose stack: {completed.stderr}")
        (saved,) = Path(folder).iterdir()
        rows = saved.read_bytes().count(b"\n") - 1
    if rows < 1:
        raise EngineError("the README's curl saved no premises from the compose stack's demo data")
    say(f"ok: the README's curl saved {saved.name} with {rows} premises from the compose stack")


def check_test_stack(stack: Stack) -> None:
    started = time.monotonic()
    stack("build", "test")  # `run` alone would take a test image built from an older checkout
    completed = subprocess.run([*stack.command, "run", "--rm", "test"], cwd=PROJECT_ROOT, env=stack.environment)
    if completed.returncode != 0:
        raise EngineError(f"make test in docker-compose.test.yml exited {completed.returncode}")
    say(f"ok: make test passed in docker-compose.test.yml in {time.monotonic() - started:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "action",
        nargs="?",
        choices=["check", "up", "down"],
        default="check",
        help="check (default); or leave docker-compose.yml's stack up, or take it down, as `docker compose` would",
    )
    parser.add_argument("--suite", action="store_true", help="also run make test in docker-compose.test.yml")
    arguments = parser.parse_args()
    engine = Engine.ready("docker-compose")
    with docker_api(engine) as environment, tempfile.TemporaryDirectory() as folder:
        developer = Stack(engine, "docker-compose.yml", environment, Path(folder))
        if arguments.action == "up":
            bring_up(engine, developer)
            app = "docker compose exec app" if engine.program == "docker" else f"podman exec {developer.project}_app_1"
            say(f"serving {engine.url(8080)}/ui/ until make compose-down; a dev token: {app} python run.py token")
            return 0
        if arguments.action == "down":
            developer.down()
            return 0
        try:
            check_developer_stack(engine, developer)
        except EngineError:
            print(developer.logs(), file=sys.stderr)
            raise
        finally:
            developer.down()
        if arguments.suite:
            test = Stack(engine, "docker-compose.test.yml", environment, Path(folder))
            try:
                check_test_stack(test)
            finally:
                test.down()
    return 0


if __name__ == "__main__":
    run_check("compose-check", main)
