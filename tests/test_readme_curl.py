"""The README's curl command, run as printed against a live service (twice): the file it saves is the CSV."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from scripts.readme_curl import readme_curl
from servicekit.testing import LiveServer


def test_the_readmes_curl_saves_the_csv_and_can_be_run_again(
    live_server: LiveServer, staff: dict[str, str], tmp_path: Path
) -> None:
    token = staff["Authorization"].removeprefix("Bearer ")
    command = readme_curl(token, live_server.url)
    for _ in range(2):  # the same day, the same folder
        completed = subprocess.run([*command, "--fail-with-body", "-sS"], cwd=tmp_path, capture_output=True)
        assert completed.returncode == 0, completed.stderr
    (saved,) = tmp_path.iterdir()
    url = next(part for part in command if part.startswith(live_server.url))
    plain = httpx.get(url, headers=staff | {"Accept-Encoding": "identity"}, timeout=30)
    assert saved.read_bytes() == plain.content
    assert plain.content.count(b"\n") > 1  # the filters match premises: the comparison is of real rows
