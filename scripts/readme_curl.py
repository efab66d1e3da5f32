"""The README's curl command for the CSV, as users copy it: run by tests/test_readme_curl.py against a live
service and by `make compose-check` against the developer's compose stack."""

from __future__ import annotations

import re
import shlex

from config import PROJECT_ROOT

README_URL = "http://127.0.0.1:8080"


def readme_curl(token: str, url: str = README_URL) -> list[str]:
    """The README's curl command, as a shell would split it, with `token` for $TOKEN and `url` for its URL."""
    command = re.search(r"^curl .*?directmail-csv\?.*?'$", (PROJECT_ROOT / "README.md").read_text(), re.M | re.S)
    if command is None:
        raise LookupError("the README no longer shows how to download the CSV with curl")
    return [
        part.replace("$TOKEN", token).replace(README_URL, url)
        for part in shlex.split(command.group(0).replace("\\\n", " "))
    ]
