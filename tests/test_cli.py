"""run.py: the command line people and the container use."""

from __future__ import annotations

import os
import subprocess
import sys

from app import MIGRATIONS
from config import PROJECT_ROOT
from servicekit.testing import assert_migrated, temporary_database


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=PROJECT_ROOT,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_subcommands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "migrate" in result.stdout


def test_a_bad_setting_stops_start_up_with_one_line_naming_it() -> None:
    result = run_cli("serve", PORT="0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "run.py: invalid setting PORT: Input should be greater than or equal to 1"
    ]


def test_a_deployment_that_forgets_environment_gets_no_embedded_database() -> None:
    """What compose or a Kubernetes manifest does when a variable is declared but left empty.
    (The plugin keeps a developer's own .env, read after the environment, out of the run.)"""
    result = run_cli("serve", ENVIRONMENT="", DATABASE_URL="")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["run.py: invalid setting DATABASE_URL: must be set outside local and test"]


def test_a_pod_in_kubernetes_refuses_the_test_environment_in_one_line() -> None:
    result = run_cli("serve", ENVIRONMENT="test", KUBERNETES_SERVICE_HOST="10.100.0.1")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "run.py: invalid setting ENVIRONMENT: test is for a developer's machine and tests, not a Kubernetes pod"
        " (KUBERNETES_SERVICE_HOST is set): use staging or production"
    ]


def test_demo_data_never_replaces_a_deployments_data() -> None:
    result = run_cli(
        "seed-demo",
        ENVIRONMENT="production",
        DATABASE_URL="postgresql://directmail:s3cure-Pa55@127.0.0.1:5432/directmail",
        AUTH_TENANT_ID="tenant",
        AUTH_AUDIENCE="api://directmail",
    )
    assert result.returncode == 2
    assert "seed-demo replaces all data: it runs only when ENVIRONMENT is local or test" in result.stderr


def test_migrate_builds_the_embedded_database(tmp_path) -> None:
    database = tmp_path / "embedded.sqlite3"
    result = run_cli("migrate", DATABASE_URL=f"sqlite:///{database}", ENVIRONMENT="test")
    assert result.returncode == 0, result.stderr
    assert "database migrated" in result.stdout
    assert_migrated(f"sqlite:///{database}", MIGRATIONS)


def test_seed_demo_has_the_command_statement_timeout_not_a_requests(server_url: str) -> None:
    """A request's statement timeout (here 1 ms, which no seed fits in) is not the seed's: on a busy
    machine a big seed would fail under it."""
    with temporary_database(server_url, MIGRATIONS) as url:
        result = run_cli(
            "seed-demo",
            "--premises",
            "2000",
            DATABASE_URL=url,
            ENVIRONMENT="test",
            DATABASE_STATEMENT_TIMEOUT_SECONDS="0.001",
        )
    assert result.returncode == 0, result.stderr
    assert "demo data seeded" in result.stdout


def test_a_local_files_dir_that_cannot_be_a_folder_is_one_line(tmp_path) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("")
    result = run_cli("token", ENVIRONMENT="local", LOCAL_FILES_DIR=str(a_file))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"run.py: invalid setting LOCAL_FILES_DIR: {str(a_file)!r} cannot be a folder: File exists"
    ]
