"""The pytest plugin: token fixtures for any roles, scopes, expiry, or a key the tenant never published; a
suite that cannot exit."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from servicekit.testing.exit_watchdog import OPTION

Headers = Callable[..., dict[str, str]]


def test_by_default_a_token_grants_every_permission_the_spec_declares(
    client: TestClient, auth_headers: Headers, declared_permissions: list[str]
) -> None:
    assert declared_permissions == ["Fixture.Read", "Fixture.Write"]
    assert client.get("/caller", headers=auth_headers()).json()["roles"] == declared_permissions


def test_delegated_scopes_instead_of_roles(client: TestClient, auth_headers: Headers) -> None:
    caller = client.get("/caller", headers=auth_headers(roles=[], scopes=["Fixture.Read"])).json()
    assert (caller["roles"], caller["scopes"]) == ([], ["Fixture.Read"])


def test_an_expired_token(client: TestClient, auth_headers: Headers) -> None:
    response = client.get("/caller", headers=auth_headers(expires_in=-3600))
    assert response.status_code == 401
    assert "Signature has expired" in response.json()["detail"]


def test_a_token_signed_with_the_wrong_key(client: TestClient, auth_headers: Headers) -> None:
    response = client.get("/caller", headers=auth_headers(wrong_key=True))
    assert response.status_code == 401
    assert "Signature verification failed" in response.json()["detail"]


@pytest.mark.anyio
async def test_the_async_client_runs_the_lifespan(async_client: httpx.AsyncClient, auth_headers: Headers) -> None:
    assert (await async_client.get("/readyz")).status_code == 200
    assert (await async_client.get("/caller", headers=auth_headers(name="Async Person"))).json()[
        "name"
    ] == "Async Person"


# --- A developer's machine cannot change a run -------------------------------------------------------

INNER_CONFTEST = """
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic_settings import SettingsConfigDict

from servicekit import ServiceSettings, service_app
from servicekit.testing import ServiceUnderTest

HERE = Path(__file__).resolve().parent


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_file=HERE / ".env")
    service_name: ClassVar[str] = "inner"
    service_root: ClassVar[Path] = HERE


@pytest.fixture(scope="session")
def service_under_test():
    spec = HERE / "api.yml"
    return ServiceUnderTest(Settings, lambda settings: service_app(__name__, settings, spec), spec)
"""

INNER_TESTS = """
import os
import subprocess
import sys
from pathlib import Path

from conftest import HERE, Settings
from servicekit.settings import load_settings

READ_IN_A_CHILD = "from conftest import Settings; from servicekit.settings import load_settings; " \\
    "s = load_settings(Settings, environment='test'); print(s.port, s.elastic_apm_server_url or '-', s.local_files_dir)"


def test_in_this_process():
    developer_s = {"PORT", "ENVIRONMENT", "CORS_ORIGINS", "ELASTIC_APM_SERVER_URL", "ELASTIC_APM_SERVICE_NAME"}
    assert not developer_s & set(os.environ)
    settings = load_settings(Settings, environment="test")
    assert (settings.port, settings.cors_origins, settings.elastic_apm_server_url) == (8080, (), "")
    assert not Path(os.environ["LOCAL_FILES_DIR"]).is_relative_to(HERE)


def test_in_a_process_it_starts():
    command = [sys.executable, "-c", READ_IN_A_CHILD]
    child = subprocess.run(command, cwd=HERE, capture_output=True, text=True, check=True)
    port, apm, local_files = child.stdout.split()
    assert (port, apm) == ("8080", "-")
    assert local_files == os.environ["LOCAL_FILES_DIR"]
"""


def test_the_developer_s_variables_and_dotenv_never_reach_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started from a developer's shell, PORT=9999 and APM exported and a junk `.env` in the checkout,
    sees none of it, nor do the processes its tests start."""
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST)
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    (tmp_path / "api.yml").write_text("openapi: 3.0.3\ninfo: {title: inner, version: '1'}\npaths: {}\n")
    (tmp_path / ".env").write_text("PORT=7777\nENVIRONMENT=local\nCORS_ORIGINS=not an origin\nLOCAL_FILES_DIR=.\n")
    developer = {
        "PORT": "9999",
        "ENVIRONMENT": "local",
        "CORS_ORIGINS": "https://mine.example",
        "ELASTIC_APM_SERVER_URL": "http://apm.mine.example:8200",
        "ELASTIC_APM_SERVICE_NAME": "mine",
    }
    for name, value in developer.items():
        monkeypatch.setenv(name, value)
    for name in ("SERVICEKIT_ENV_FILE", "LOCAL_FILES_DIR"):  # this run's own isolation, not the developer's
        monkeypatch.delenv(name, raising=False)
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert inner.returncode == 0, inner.stdout + inner.stderr
    assert "2 passed" in inner.stdout
    assert (tmp_path / ".env").read_text().startswith("PORT=7777")


LEAKS_A_THREAD = """
import threading

def wait_forever():
    threading.Event().wait()

def test_passes_but_leaves_a_thread_that_never_ends():
    threading.Thread(target=wait_forever).start()
"""


@pytest.mark.slow
def test_a_suite_that_cannot_exit_fails_and_says_which_thread_held_it(tmp_path: Path) -> None:
    (tmp_path / "test_leak.py").write_text(LEAKS_A_THREAD)
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", f"{OPTION}=1", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "1 passed" in run.stdout
    assert run.returncode != 0
    assert 'test_leak.py", line 5 in wait_forever' in run.stderr  # the stuck thread's stack
    assert time.monotonic() - started < 30
