"""A service's command run as a job runner runs it: `python run.py COMMAND ...` in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COMMAND_TIMEOUT_SECONDS = 60.0


def run_service_command(
    project: Path, *arguments: str, timeout: float = COMMAND_TIMEOUT_SECONDS, **environment: str
) -> subprocess.CompletedProcess[str]:
    """`python run.py ARGUMENTS` in the service's folder `project`, with this interpreter, finished (or
    killed, raising `subprocess.TimeoutExpired`, after `timeout` seconds): its exit status, and what it
    printed as text. It inherits the run's environment (the plugin's isolated one), with ENVIRONMENT=test
    and `environment`'s variables on top (`DATABASE_URL=...`)."""
    return subprocess.run(
        [sys.executable, "run.py", *arguments],
        cwd=project,
        env=os.environ | {"ENVIRONMENT": "test"} | environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
