"""The README's curl commands, run as printed against a live service (each twice): the files they save are
the same CSV, whichever way a command writes the list of communities."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from scripts.readme_curl import readme_curls
from servicekit.testing import LiveServer


def test_the_readmes_curls_save_the_same_csv_and_can_be_run_again(
    live_server: LiveServer, staff: dict[str, str], tmp_path: Path
) -> None:
    token = staff["Authorization"].removeprefix("Bearer ")
    commands = readme_curls(token, live_server.url)
    assert len(commands) == 2  # the CSV-line form and the one-name-per-parameter form
    saved = []
    for number, command in enumerate(commands):
        folder = tmp_path / str(number)
        folder.mkdir()
        for _ in range(2):  # the same day, the same folder
            completed = subprocess.run([*command, "--fail-with-body", "-sS"], cwd=folder, capture_output=True)
            assert completed.returncode == 0, completed.stderr
        (file,) = folder.iterdir()
        saved.append(file.read_bytes())
    url = next(part for part in commands[0] if part.startswith(live_server.url))
    plain = httpx.get(url, headers=staff | {"Accept-Encoding": "identity"}, timeout=30)
    assert saved == [plain.content, plain.content]
    assert plain.content.count(b"\n") > 1  # the filters match premises: the comparison is of real rows
