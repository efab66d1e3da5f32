"""`run_service_command` (the `run_command` fixture's work): a service's `run.py` run as a job runner runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from servicekit.testing import run_service_command

PRINTS_WHAT_IT_GOT = """import os, sys
print(sys.argv[1:], os.environ["ENVIRONMENT"], os.environ["DATABASE_URL"], os.environ["LOCAL_FILES_DIR"] != "")
sys.exit(3)
"""


def test_a_command_runs_in_the_service_s_folder_in_the_test_environment(tmp_path: Path) -> None:
    (tmp_path / "run.py").write_text(PRINTS_WHAT_IT_GOT)
    url = "postgresql+psycopg://127.0.0.1:5432/a_test_database"
    result = run_service_command(tmp_path, "close-day", "--day", "2026-12-07", DATABASE_URL=url)
    assert result.returncode == 3
    assert result.stdout == f"['close-day', '--day', '2026-12-07'] test {url} True\n"  # the run's isolation too


def test_a_command_that_hangs_is_killed_after_its_timeout(tmp_path: Path) -> None:
    (tmp_path / "run.py").write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        run_service_command(tmp_path, "close-day", timeout=0.5)
