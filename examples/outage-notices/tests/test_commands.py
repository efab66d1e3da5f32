"""run.py's own commands, run as a job runner runs them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable


def test_the_command_without_the_services_registration_fails_saying_why(
    run_command: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run_command("publish-notices")
    assert result.returncode == 1
    assert "publish-notices stopped: outbound calls need AUTH_TENANT_ID" in result.stderr
