"""The README's curl commands for the CSV, as users copy them: run by tests/test_readme_curl.py against a live
service and by `make compose-check` against the developer's compose stack."""

from __future__ import annotations

import re
import shlex

from config import PROJECT_ROOT

README_URL = "http://127.0.0.1:8080"


def readme_curls(token: str, url: str = README_URL) -> list[list[str]]:
    """The README's curl commands for the CSV, each as a shell would split it, with `token` for $TOKEN and
    `url` for its URL."""
    commands = [
        command
        for command in re.findall(r"^curl (?:.*\\\n)*.*$", (PROJECT_ROOT / "README.md").read_text(), re.M)
        if "/directmail-csv" in command
    ]
    if not commands:
        raise LookupError("the README no longer shows how to download the CSV with curl")
    return [
        [part.replace("$TOKEN", token).replace(README_URL, url) for part in shlex.split(command.replace("\\\n", " "))]
        for command in commands
    ]


def readme_curl(token: str, url: str = README_URL) -> list[str]:
    """The README's first curl command for the CSV."""
    return readme_curls(token, url)[0]
