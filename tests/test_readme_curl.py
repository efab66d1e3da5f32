"""The README's curl command, run as printed against a live service (twice): the file it saves is the CSV."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import httpx

from config import PROJECT_ROOT
from servicekit.testing import LiveServer

README_URL = "http://127.0.0.1:8080"


def readme_curl() -> list[str]:
    """The README's curl command for the CSV, as a shell would split it."""
    command = re.search(r"^curl .*?directmail-csv\?.*?'$", (PROJECT_ROOT / "README.md").read_text(), re.M | re.S)
    assert command, "the README no longer shows how to download the CSV with curl"
    return shlex.split(command.group(0).replace("\\\n", " "))


def test_the_readmes_curl_saves_the_csv_and_can_be_run_again(
    live_server: LiveServer, staff: dict[str, str], tmp_path: Path
) -> None:
    token = staff["Authorization"].removeprefix("Bearer ")
    command = [part.replace("$TOKEN", token).replace(README_URL, live_server.url) for part in readme_curl()]
    for _ in range(2):  # the same day, the same folder
        completed = subprocess.run([*command, "--fail-with-body", "-sS"], cwd=tmp_path, capture_output=True)
        assert completed.returncode == 0, completed.stderr
    (saved,) = tmp_path.iterdir()
    url = next(part for part in command if part.startswith(live_server.url))
    plain = httpx.get(url, headers=staff | {"Accept-Encoding": "identity"}, timeout=30)
    assert saved.read_bytes() == plain.content
    assert plain.content.count(b"\n") > 1  # the filters match premises: the comparison is of real rows
