"""The image and the compose files as a deployer relies on them: the runtime stage runs `run.py serve` as a
fixed non-root user, strict by default, on a read-only root filesystem, probed at /healthz; nothing of
tests/, var/ or .env gets in; the locked dependencies install with their hashes checked; the developer's
stack migrates before it serves, and the test stack has a primary and a streaming replica of it.
No Docker needed: the files are read as Docker and Compose read them."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from config import PROJECT_ROOT, Settings

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
RUNTIME_PATHS = {"run.py", "config.py", "api-spec.yml", "alembic.ini", "alembic", "app"}


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [value for name, value in self.instructions if name == keyword]

    def env(self) -> dict[str, str]:
        """What the stage's ENV instructions set (the `KEY=value` form)."""
        variables: dict[str, str] = {}
        for value in self.values("ENV"):
            for word in shlex.split(value):
                name, _, setting = word.partition("=")
                variables[name] = setting
        return variables

    def copies(self) -> list[tuple[str | None, list[str]]]:
        """Each COPY's stage (None: the build context) and its sources."""
        found = []
        for value in self.values("COPY"):
            words = value.split()
            options = [word for word in words if word.startswith("--")]
            paths = [word for word in words if not word.startswith("--")]
            origin = next((option.split("=", 1)[1] for option in options if option.startswith("--from=")), None)
            found.append((origin, paths[:-1]))
        return found


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages, with their instructions: continuation lines joined, comment lines dropped, as Docker does."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, value = pending.strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(value.split())))
        pending = ""
    stages: list[Stage] = []
    for keyword, value in instructions:
        if keyword == "FROM":
            words = value.split()
            base = next(word for word in words if not word.startswith("--"))
            stages.append(Stage(base, words[-1] if words[-2].upper() == "AS" else ""))
        else:
            stages[-1].instructions.append((keyword, value))
    return stages


STAGES = {stage.name: stage for stage in parse_dockerfile(DOCKERFILE.read_text())}
RUNTIME = STAGES["runtime"]


def exec_form(value: str) -> list[str]:
    words = json.loads(value)
    assert isinstance(words, list), f"{value!r} is not in exec form"
    return [str(word) for word in words]


def compose(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / name).read_text())
    return loaded


# --- The Dockerfile --------------------------------------------------------------------------------------


def test_the_bases_are_pinned_by_exact_version() -> None:
    external = [stage.base for stage in STAGES.values() if stage.base not in STAGES]
    assert external
    for base in external:
        _image, _, tag = base.partition("@")[0].partition(":")
        assert re.match(r"^\d+\.\d+\.\d+-", tag), f"{base}: not pinned to an exact version"
    assert any(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base) for base in external)


def test_the_default_target_is_the_runtime_and_it_runs_as_a_fixed_non_root_uid() -> None:
    assert list(STAGES)[-1] == "runtime"  # what `docker build` without --target makes
    users = RUNTIME.values("USER")
    assert users, "the runtime stage runs as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit(), f"USER {users[-1]}: not a fixed UID"
    assert int(user) != 0, "the runtime stage runs as root"
    assert not group or (group.isdigit() and int(group) != 0)


def test_only_the_test_stage_may_set_a_lenient_environment() -> None:
    for stage in STAGES.values():
        setting = stage.env().get("ENVIRONMENT")
        arguments = [value for value in stage.values("ARG") if value.startswith("ENVIRONMENT")]
        if stage.name != "test":
            assert setting not in {"local", "test"}, f"stage {stage.name} sets ENVIRONMENT={setting}"
            assert not arguments, f"stage {stage.name} lets a build argument choose ENVIRONMENT"
    assert RUNTIME.env()["ENVIRONMENT"] == "production"


def test_the_runtime_serves_run_py_on_all_interfaces_in_exec_form() -> None:
    env = RUNTIME.env()
    assert env["HOST"] == "0.0.0.0"
    assert RUNTIME.values("EXPOSE") == [env["PORT"]]
    assert exec_form(RUNTIME.values("ENTRYPOINT")[-1]) == ["python", "run.py"]
    assert exec_form(RUNTIME.values("CMD")[-1]) == ["serve"]


def test_the_runtime_works_on_a_read_only_root_filesystem() -> None:
    env = RUNTIME.env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["LOCAL_FILES_DIR"].startswith("/tmp")
    assert env["HOME"].startswith("/tmp")
    # The bytecode Python would otherwise compile at each start, compiled at build time instead.
    workdir = RUNTIME.values("WORKDIR")[-1]
    assert any("compileall" in run and workdir in run.split() for run in RUNTIME.values("RUN"))
    assert any("compileall" in run and "/opt/venv" in run for run in STAGES["builder"].values("RUN"))


def healthcheck() -> list[str]:
    options, _, command = RUNTIME.values("HEALTHCHECK")[-1].partition(" CMD ")
    assert "--timeout=" in options
    assert "--interval=" in options
    return exec_form(command)


class Probed(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def probe_target() -> Iterator[tuple[HTTPServer, type[Probed]]]:
    handler = type("Handler", (Probed,), {})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_the_healthcheck_probes_healthz_on_the_port_the_image_serves(
    probe_target: tuple[HTTPServer, type[Probed]],
) -> None:
    command = healthcheck()
    assert command[0] == "python"  # the slim image has no curl
    default_port = re.search(r"get\('PORT', '(\d+)'\)", command[-1])
    assert default_port is not None
    assert default_port[1] == RUNTIME.env()["PORT"]
    server, handler = probe_target
    environment = {**os.environ, "PORT": str(server.server_address[1])}

    def probe() -> int:
        return subprocess.run([sys.executable, *command[1:]], env=environment, capture_output=True).returncode

    assert probe() == 0
    handler.status = 503
    assert probe() != 0


def test_the_runtime_copies_nothing_but_what_it_runs() -> None:
    from_context = {path.rstrip("/") for origin, paths in RUNTIME.copies() if origin is None for path in paths}
    assert from_context == RUNTIME_PATHS
    from_stages = {(origin, path.rstrip("/")) for origin, paths in RUNTIME.copies() if origin for path in paths}
    assert from_stages == {("builder", "/opt/venv"), ("swagger-ui", "/src/swagger-ui/build")}
    for origin in ("builder", "swagger-ui"):  # nor does what it copies from other stages come from them
        for source, paths in STAGES[origin].copies():
            assert source is None
            assert not any(path.startswith(("tests", "var", ".env", ".")) for path in paths), origin


def test_the_test_stage_has_everything_make_test_needs_installed() -> None:
    test = STAGES["test"]
    assert not test.values("USER")  # root: the test scripts install Debian packages
    runs = " ".join(test.values("RUN"))
    for package in ("postgresql-15", "postgresql-15-postgis-3", "postgresql-client-15", "make", "curl", "git"):
        assert re.search(rf"\s{re.escape(package)}(\s|$)", runs), package
    assert "make install" in runs
    assert "scripts/test_tools.sh" in runs
    assert ("swagger-ui", "/usr/local/bin/node") in {(o, p) for o, paths in test.copies() for p in paths}
    assert exec_form(test.values("CMD")[-1]) == ["make", "test"]


# --- .dockerignore ---------------------------------------------------------------------------------------


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (Docker's rules: the last match wins)."""
    verdict = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        if pattern.startswith("**/"):
            tail = pattern.removeprefix("**/")
            matched = any(fnmatch(part, tail) for part in parts)
        else:
            matched = any(fnmatch(prefix, pattern) for prefix in prefixes)
        if matched:
            verdict = not negated
    return verdict


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "examples/outage-notices/.env",
        "var/dev-signing-key.pem",
        "var/directmail.sqlite3",
        ".git/HEAD",
        ".venv/bin/python",
        "scripts/client-gen/.venv/bin/python",
        "app/__pycache__/views.cpython-311.pyc",
        "servicekit/.mypy_cache/3.11/cache.db",
        ".ruff_cache/CACHEDIR.TAG",
        ".pytest_cache/README.md",
        "swagger-ui/node_modules/swagger-ui-dist/package.json",
        "tests/stock_clients/typescript/node_modules/typescript/package.json",
        "swagger-ui/build/index.j2",
        "dist/gigaclear_servicekit-0.1.0-py3-none-any.whl",
    ],
)
def test_the_build_context_leaves_out_secrets_installs_and_caches(path: str) -> None:
    assert ignored(path)


def test_the_build_context_keeps_what_every_stage_copies() -> None:
    needed = {path for stage in STAGES.values() for origin, paths in stage.copies() if origin is None for path in paths}
    needed -= {"."}
    # The test stage copies the whole checkout: `make test` reads these.
    needed |= {"tests/conftest.py", "Makefile", ".gitignore", "clients/directmail-client", "examples/outage-notices"}
    assert not [path for path in sorted(needed) if ignored(path.rstrip("/"))]


# --- The locked dependencies -----------------------------------------------------------------------------


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def builder_files_before(step: str) -> list[str]:
    """What the builder stage has copied from the build context by the RUN that contains `step`."""
    copied: list[str] = []
    for keyword, value in STAGES["builder"].instructions:
        if keyword == "RUN" and step in value:
            return copied
        if keyword == "COPY" and "--from=" not in value:
            copied += value.split()[:-1]
    raise AssertionError(f"the builder stage has no RUN with {step!r}")


def test_the_image_installs_every_locked_package_with_its_hashes_checked(tmp_path: Path) -> None:
    """The builder stage's own pipeline, run where only what the stage holds at that step is: a checkout's
    ./servicekit changes what pipenv writes, and pip refuses a bare path among hashed requirements."""
    run = next(run for run in STAGES["builder"].values("RUN") if "pipenv requirements" in run)
    pipeline = run.split(" > ")[0]
    assert "--require-hashes" in run
    assert "pipenv requirements --hash" in pipeline
    for path in builder_files_before("pipenv requirements"):
        shutil.copy(PROJECT_ROOT / path, tmp_path / path)
    python = os.environ.get("PYTHON", "python3")  # the Makefile's: it installs pipenv there
    command = pipeline.replace("pipenv requirements", f"{shlex.quote(python)} -m pipenv requirements", 1)
    completed = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=tmp_path,
        env={**os.environ, "PIPENV_VERBOSITY": "-1", "PIPENV_PIPFILE": str(tmp_path / "Pipfile")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert completed.returncode == 0, completed.stderr
    requirements = completed.stdout.splitlines()
    assert requirements
    for line in requirements:  # each a package pinned by version and hashes, as pip --require-hashes demands
        requirement, _, hashes = line.partition(" --hash=sha256:")
        assert hashes, f"pip --require-hashes would refuse {line!r}"
        assert Requirement(requirement).specifier, line
    installed = {normalised(Requirement(line.partition(" --hash=")[0]).name) for line in requirements}
    lock = json.loads((PROJECT_ROOT / "Pipfile.lock").read_text())["default"]
    locked = {normalised(name) for name, entry in lock.items() if "path" not in entry}
    assert installed == locked
    # The kit, left out of the hashed set, is installed on its own, not editable.
    kit = [run for run in STAGES["builder"].values("RUN") if "./servicekit" in run]
    assert kit
    assert all("-e " not in run and "--editable" not in run for run in kit)


# --- The compose files -----------------------------------------------------------------------------------


def test_the_developer_stack_migrates_before_it_serves_and_probes_healthz() -> None:
    services = compose("docker-compose.yml")["services"]
    app, migrate, db = services["app"], services["migrate"], services["db"]
    assert app["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert app["depends_on"]["db"] == {"condition": "service_healthy"}
    assert migrate["depends_on"]["db"] == {"condition": "service_healthy"}
    assert migrate["image"] == app["image"]
    assert migrate["build"]["target"] == app["build"]["target"] == "runtime"
    script = migrate["entrypoint"][-1]
    assert script.index("run.py migrate") < script.index("run.py seed-demo")
    assert "--if-empty" in script
    assert " && " in script
    probe = " ".join(app["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/healthz" in probe
    assert app["ports"] == ["127.0.0.1:8080:8080"]
    assert db["image"] == "postgis/postgis:15-3.5"
    assert "pg_isready" in db["healthcheck"]["test"]


def seconds(duration: str) -> float:
    """A compose duration such as `1m30s` or `40s`, in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(float(amount) * units[unit] for amount, unit in re.findall(r"(\d+(?:\.\d+)?)([hms])", duration))


def test_the_developer_stack_stops_the_service_after_its_downloads_not_during_them() -> None:
    services = compose("docker-compose.yml")["services"]
    app, migrate = services["app"], services["migrate"]
    settings = {name: field.default for name, field in Settings.model_fields.items()}
    drain = float(app["environment"].get("SHUTDOWN_DRAIN_SECONDS", settings["shutdown_drain_seconds"]))
    timeout = float(app["environment"].get("SHUTDOWN_TIMEOUT_SECONDS", settings["shutdown_timeout_seconds"]))
    assert seconds(app["stop_grace_period"]) > drain + timeout
    # The one-off migration serves nothing: the image's HEALTHCHECK would leave it "starting" for ever.
    assert migrate["healthcheck"] == {"disable": True}


def test_the_developer_stack_runs_locked_down_with_the_dev_login() -> None:
    services = compose("docker-compose.yml")["services"]
    for name in ("app", "migrate"):
        service = services[name]
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name
        uid = service["user"].split(":")[0]
        assert uid.isdigit(), name
        assert int(uid) != 0, name
        assert service["environment"]["ENVIRONMENT"] == "local", name
        url = service["environment"]["DATABASE_URL"]
        assert re.fullmatch(r"postgresql://directmail:[^@]+@db:5432/directmail", url), name


def test_the_test_stack_runs_make_test_against_a_primary_and_its_streaming_replica() -> None:
    services = compose("docker-compose.test.yml")["services"]
    test, primary, replica = services["test"], services["postgis"], services["postgis-replica"]
    assert test["build"]["target"] in STAGES
    assert test["build"]["target"] == "test"
    assert test["command"] == ["make", "test"]
    assert test["environment"]["TEST_DATABASE_URL"] == "postgresql://postgres@postgis:5432/postgres"
    assert test["environment"]["TEST_DATABASE_READ_URL"] == "postgresql://postgres@postgis-replica:5432/postgres"
    assert {name: needs["condition"] for name, needs in test["depends_on"].items()} == {
        "postgis": "service_healthy",
        "postgis-replica": "service_healthy",
    }
    assert primary["image"] == replica["image"]
    assert primary["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in primary["volumes"]}
    init = next(source for target, source in mounted.items() if target.startswith("/docker-entrypoint-initdb.d/"))
    assert 'echo "host replication all all trust" >>"${PGDATA}/pg_hba.conf"' in (PROJECT_ROOT / init).read_text()
    script_source, script_target = replica["volumes"][0].split(":")[:2]
    assert replica["entrypoint"][-1] == script_target
    script = (PROJECT_ROOT / script_source).read_text()
    assert re.search(r"pg_basebackup -h \"?\$?\{?primary\}?\"? -U postgres -D \S+ -R -X stream", script)
    assert "primary=postgis\n" in script
    assert "exec gosu postgres postgres -D" in script
