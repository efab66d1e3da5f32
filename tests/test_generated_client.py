"""The generated client (clients/directmail-client) as another service uses it: installed from its own
package into a virtualenv of its own, against a live uvicorn with a real token. What it saves is what curl
gets, byte for byte; its summary counts the rows of that file."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from config import PROJECT_ROOT
from servicekit.testing import LiveServer

CLIENT_PACKAGE = PROJECT_ROOT / "clients" / "directmail-client"
SEGMENTS = ["S1", "S2", "S3"]
# Run by the client's own interpreter: nothing of the service is importable there.
USES_THE_CLIENT = """
import json, sys
from directmail_client import AuthenticatedClient
from directmail_client.api.directmail import get_directmail_csv, get_directmail_summary
from directmail_client.models import MailingSummary

base_url, token, folder, segments, *communities = sys.argv[1:]
with AuthenticatedClient(base_url=base_url, token=token) as client:
    summary = get_directmail_summary.sync(client=client, communities=communities, segments=segments.split())
    assert isinstance(summary, MailingSummary), summary
    saved = get_directmail_csv.sync_download(
        client=client, communities=communities, segments=segments.split(), bom=True, directory=folder
    )
print(json.dumps({"total": summary.total, "saved": str(saved)}))
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("directmail-client") / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, CLIENT_PACKAGE], check=True, capture_output=True)
    return venv / "bin" / "python"


# Run by the same interpreter, with a client someone generated from the served spec by themselves.
USES_A_STOCK_CLIENT = """
import sys
from directmail_client import AuthenticatedClient
from directmail_client.api.directmail import get_directmail_csv
from directmail_client.models import Community, MailingSummary, Problem

base_url, token, *communities = sys.argv[1:]
with AuthenticatedClient(base_url=base_url, token=token) as client:
    downloaded = get_directmail_csv.sync(client=client, communities=communities, bom=True)
assert not isinstance(downloaded, Problem), downloaded
sys.stdout.buffer.write(downloaded.payload.read())
"""


def test_a_client_anyone_generates_from_the_served_spec_downloads_the_csv(
    client_python: Path, live_server: LiveServer, staff: dict[str, str], tmp_path: Path
) -> None:
    served = tmp_path / "openapi.json"
    served.write_text(httpx.get(f"{live_server.url}/openapi.json").text)
    no_config = tmp_path / "config.json"
    no_config.write_text("{}")
    generated = tmp_path / "stock"
    # openapi-python-client's own templates and defaults; a warning fails the run.
    subprocess.run(
        [PROJECT_ROOT / "scripts" / "generate_client.sh", served, no_config, generated], check=True, capture_output=True
    )
    token = staff["Authorization"].removeprefix("Bearer ")
    used = subprocess.run(
        [client_python, "-c", USES_A_STOCK_CLIENT, live_server.url, token, "Winson"],
        capture_output=True,
        env={"PYTHONPATH": str(generated)},
        timeout=60,
    )
    assert used.returncode == 0, used.stderr.decode()
    expected = httpx.get(f"{live_server.url}/directmail-csv?communities=Winson&bom=true", headers=staff)
    assert used.stdout == expected.content
    assert used.stdout.startswith(b"\xef\xbb\xbf")


def test_the_installed_client_downloads_what_curl_gets_and_counts_it(
    client_python: Path, live_server: LiveServer, staff: dict[str, str], tmp_path: Path
) -> None:
    token = staff["Authorization"].removeprefix("Bearer ")
    names = [community["name"] for community in httpx.get(f"{live_server.url}/communities", headers=staff).json()]
    communities = [names[0], next(name for name in names if "," in name)]

    used = subprocess.run(
        [client_python, "-c", USES_THE_CLIENT, live_server.url, token, tmp_path, " ".join(SEGMENTS), *communities],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert used.returncode == 0, used.stderr
    result = json.loads(used.stdout)
    saved = Path(result["saved"])
    assert saved.parent == tmp_path
    assert re.fullmatch(r"directmail-\d{4}-\d{2}-\d{2}\.csv", saved.name)

    quoted = ",".join(f'"{name}"' if "," in name else name for name in communities)
    url = httpx.URL(
        f"{live_server.url}/directmail-csv",
        params={"communities": quoted, "segments": ",".join(SEGMENTS), "bom": "true"},
    )
    curl = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "--compressed", "-H", f"Authorization: Bearer {token}", str(url)],
        capture_output=True,
        check=True,
    )
    assert saved.read_bytes() == curl.stdout
    assert curl.stdout.startswith(b"\xef\xbb\xbf")  # the byte-order mark asked for, kept
    rows = list(csv.reader(io.StringIO(curl.stdout.decode("utf-8-sig"))))[1:]
    assert len(rows) == result["total"] > 0
    assert {row[6] for row in rows} == set(communities)
