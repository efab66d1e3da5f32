"""`make image-check`: the runtime image, built from the Dockerfile unchanged, run as deploy/ runs it.

Against a PostGIS container and a tenant's keys served over HTTP, it proves: the image runs as its non-root
user with a read-only root, /tmp its only writable path and no capability; `run.py migrate` works as the
Job runs it; both probes and the HEALTHCHECK answer; a download needs a token and streams with one; and
SIGTERM in the middle of a download lets it end whole and the process exit 0 within its drain.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import dataclass

import httpx

from scripts.containers.engine import RUNTIME_IMAGE, Engine, EngineError, free_port, run_check
from scripts.containers.peers import SigningKeys, migrate_and_seed, service_environment, start_postgis
from servicekit.testing import FakeEntra

PREMISES = 100_000
# Short, to keep the check short: make rehearse runs deploy/'s own (15 s, 300 s).
DRAIN_SECONDS = 2
SHUTDOWN_TIMEOUT_SECONDS = 20
READ_PAUSE_SECONDS = 0.005  # a slow reader's pause per 8 KiB: the download outlasts the drain


def say(line: str) -> None:
    print(f"image-check: {line}", flush=True)


@dataclass
class Service:
    """The image's `serve`, locked down, on a port of its own; what the check needs to reach it."""

    engine: Engine
    name: str
    port: int
    token: str

    @property
    def url(self) -> str:
        return self.engine.url(self.port)

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(self.url + path, headers=headers, timeout=30)

    def authorised(self) -> dict[str, str]:
        """A token's headers; the body as the service writes it, so a cut one shows in its length."""
        return {"Authorization": f"Bearer {self.token}", "Accept-Encoding": "identity"}


def checked(description: str, passed: bool, detail: object = "") -> None:
    if not passed:
        raise EngineError(f"{description}: no {detail}".rstrip())
    say(f"ok: {description}")


def check_locked_down(service: Service) -> None:
    engine, state = service.engine, service.engine.inspect(service.name)
    uid = engine("exec", service.name, "python", "-c", "import os; print(os.getuid(), os.getgid())")
    checked("runs as UID 10001, GID 10001", uid == "10001 10001", uid)
    capabilities = engine("exec", service.name, "grep", "-E", "^(CapEff|CapPrm|NoNewPrivs)", "/proc/self/status")
    values = dict(line.split(":\t") for line in capabilities.splitlines())
    checked(
        "no capability and no privilege to gain",
        values == {"CapEff": "0" * 16, "CapPrm": "0" * 16, "NoNewPrivs": "1"},
        values,
    )
    checked("the root filesystem is read-only", state["HostConfig"]["ReadonlyRootfs"] is True)
    writable = engine(
        "exec",
        service.name,
        "python",
        "-c",
        "import os\n"
        "for path in ('/', '/app', '/opt/venv', '/tmp', '/var/tmp', '/run', '/home', '/dev/shm'):\n"
        "    if os.path.isdir(path) and os.access(path, os.W_OK):\n"
        "        try: open(os.path.join(path, '.probe'), 'w').close()\n"
        "        except OSError: continue\n"
        "        print(path)",
    )
    checked(
        "/tmp (and the engine's /dev/shm) the only writable paths",
        set(writable.split()) <= {"/tmp", "/dev/shm"},
        writable,
    )


def check_probes(service: Service) -> None:
    healthz, readyz = service.get("/healthz"), service.get("/readyz")
    checked("/healthz answers 200", healthz.status_code == 200, healthz.text)
    checked("/readyz answers 200 with the database migrated", readyz.status_code == 200, readyz.text)
    checked("the image's HEALTHCHECK passes", service.engine.healthcheck_passes(service.name))


def check_downloads_need_a_token(service: Service) -> bytes:
    refused = service.get("/directmail-csv")
    checked("a download without a token is refused with 401", refused.status_code == 401, refused.status_code)
    answered = service.get("/directmail-csv", **service.authorised())
    rows = list(csv.reader(io.StringIO(answered.content.decode("utf-8-sig"))))
    checked(
        f"a download with a token from the key server streams the {PREMISES} premises",
        answered.status_code == 200 and len(rows) == PREMISES + 1,
        f"{answered.status_code}, {len(rows)} lines",
    )
    return answered.content


def check_sigterm_mid_download(service: Service, whole: bytes) -> None:
    received = bytearray()
    reading = threading.Event()
    errors: list[BaseException] = []

    def read_slowly() -> None:
        try:
            with httpx.stream("GET", service.url + "/directmail-csv", headers=service.authorised(), timeout=60) as r:
                for chunk in r.iter_raw(8192):
                    received.extend(chunk)
                    reading.set()
                    time.sleep(READ_PAUSE_SECONDS)
        except httpx.HTTPError as exc:
            errors.append(exc)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    checked("a slow download is under way", reading.wait(30))
    signalled = time.monotonic()
    service.engine("kill", "--signal=TERM", service.name)
    draining = service.get("/readyz")
    checked("after SIGTERM, /readyz fails at once (503) while the service still serves", draining.status_code == 503)
    exit_code = wait_for_exit(service, SHUTDOWN_TIMEOUT_SECONDS + DRAIN_SECONDS + 10)
    stopped_after = time.monotonic() - signalled
    reader.join(60)
    checked(
        f"SIGTERM mid-download: the file ends whole ({len(received):,} bytes, as before)",
        not errors and bytes(received) == whole,
        f"{len(received):,} of {len(whole):,} bytes, {errors}",
    )
    limit = DRAIN_SECONDS + SHUTDOWN_TIMEOUT_SECONDS
    checked(
        f"the service exits 0, {stopped_after:.1f} s after SIGTERM (this check's drain is {DRAIN_SECONDS} s and its"
        f" shutdown timeout {SHUTDOWN_TIMEOUT_SECONDS} s; make rehearse runs production's)",
        exit_code == 0 and DRAIN_SECONDS < stopped_after < limit + 5,
        f"exit {exit_code}",
    )


def wait_for_exit(service: Service, seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = service.engine.inspect(service.name)["State"]
        if not state["Running"]:
            return int(state["ExitCode"])
        time.sleep(0.2)
    return None


def main() -> int:
    engine = Engine.ready()
    say(f"building the runtime image with {engine.program}")
    say(f"built {RUNTIME_IMAGE} in {engine.build(RUNTIME_IMAGE):.0f} s")
    with engine.containers("directmail-image-check") as named:
        database = start_postgis(engine, named("db"), free_port())
        keys = SigningKeys(engine, RUNTIME_IMAGE, named("keys"), free_port(), FakeEntra()).start()
        port = free_port()
        environment = service_environment(
            database,
            keys,
            port,
            shutdown_drain_seconds=DRAIN_SECONDS,
            shutdown_timeout_seconds=SHUTDOWN_TIMEOUT_SECONDS,
        )
        migrate_and_seed(engine, RUNTIME_IMAGE, environment, PREMISES)
        say(f"ok: run.py migrate exits 0, locked down as the Job runs it; {PREMISES} demo premises seeded")
        service = Service(engine, named("app"), port, keys.token("Directmail.Read"))
        engine.run(service.name, RUNTIME_IMAGE, env=environment, options=engine.locked_down)
        engine.wait_until_answering(service.url + "/healthz", service.name)
        check_locked_down(service)
        check_probes(service)
        whole = check_downloads_need_a_token(service)
        check_sigterm_mid_download(service, whole)
    say("the image runs as production")
    return 0


if __name__ == "__main__":
    run_check("image-check", main)
