"""run.py's own commands, run as a job runner runs them."""

from __future__ import annotations

import os
import subprocess
import sys

from config import PROJECT_ROOT


def test_the_command_without_the_services_registration_fails_saying_why(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "run.py", "publish-notices"],
        cwd=PROJECT_ROOT,
        env=os.environ | {"ENVIRONMENT": "test", "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "publish-notices stopped: outbound calls need AUTH_TENANT_ID" in result.stderr
