"""The generated client (clients/directmail-client) as another service uses it: installed from its own
package into a virtualenv of its own, against a live uvicorn with a real token. What it saves is what curl
gets, byte for byte; its summary counts the rows of that file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# Run by the same interpreter, with a client someone generated from the served spec by themselves: the
# generator's own templates and defaults (enums as Enum classes, the body read whole as a File).
USES_A_STOCK_CLIENT = """
import datetime, json, os, sys
from directmail_client import AuthenticatedClient
from directmail_client.api.directmail import get_directmail_csv, get_directmail_summary
from directmail_client.models import MailingSummary, Problem, Segment

base_url, saved_to = sys.argv[1:]
asked = json.loads(os.environ["FILTERS"])
filters = dict(
    communities=asked["communities"],
    rfs=asked["rfs"],
    rfs_date_after=datetime.date.fromisoformat(asked["rfs_date_after"]),
    rfs_date_before=datetime.date.fromisoformat(asked["rfs_date_before"]),
    business=asked["business"],
    bduk=asked["bduk"],
    segments=[Segment(segment) for segment in asked["segments"]],
)
report = {}
with AuthenticatedClient(base_url=base_url, token=os.environ["TOKEN"]) as client:
    downloaded = get_directmail_csv.sync(client=client, bom=True, **filters)
    assert not isinstance(downloaded, Problem), downloaded
    with open(saved_to, "wb") as file:
        file.write(downloaded.payload.read())
    summary = get_directmail_summary.sync(client=client, **filters)
    assert isinstance(summary, MailingSummary), summary
    report["total"] = summary.total
    unknown = get_directmail_summary.sync(client=client, communities=["Winson", "Winsen"])
    report["400"] = unknown.to_dict()
for name, token in (("401", "not-a-token"), ("403", os.environ["TOKEN_WITHOUT_ROLE"])):
    with AuthenticatedClient(base_url=base_url, token=token) as client:
        refused = get_directmail_csv.sync(client=client, communities=["Winson"])
        assert isinstance(refused, Problem), refused
        report[name] = refused.to_dict()
print(json.dumps(report))
"""


def filters_that_keep(row: dict[str, str], communities: list[str]) -> dict[str, Any]:
    """Every filter set, each to a value that keeps `row` (so that the list cannot come out empty)."""
    day = dt.date.fromisoformat(row["rfs_date"])
    return {
        "communities": communities,
        "rfs": row["rfs"] == "true",
        "rfs_date_after": str(day - dt.timedelta(days=400)),
        "rfs_date_before": str(day + dt.timedelta(days=400)),
        "business": row["business"] == "true",
        "bduk": row["bduk"] == "true",
        "segments": sorted({row["segment"], "S1", "S5"}),
    }


def as_csv_line(names: list[str]) -> str:
    return ",".join(f'"{name}"' if "," in name else name for name in names)


def curl_csv(server: LiveServer, token: str, filters: dict[str, Any]) -> bytes:
    """What curl gets for `filters` written as people type them: each list as one CSV line."""
    query = {name: str(value).lower() if isinstance(value, bool) else value for name, value in filters.items()}
    query |= {name: as_csv_line(filters[name]) for name in ("communities", "segments")}
    url = httpx.URL(f"{server.url}/directmail-csv", params=query | {"bom": "true"})
    headers = ["-H", f"Authorization: Bearer {token}"]
    return subprocess.run(
        ["curl", "-sS", "--fail-with-body", "--compressed", *headers, str(url)], capture_output=True, check=True
    ).stdout


def test_a_client_anyone_generates_from_the_served_spec_gets_what_curl_gets(
    client_python: Path, live_server: LiveServer, auth_headers: Callable[..., dict[str, str]], tmp_path: Path
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
    token = auth_headers(roles=["Directmail.Read"])["Authorization"].removeprefix("Bearer ")
    full = httpx.get(f"{live_server.url}/directmail-csv", headers={"Authorization": f"Bearer {token}"})
    rows = list(csv.DictReader(io.StringIO(full.text)))
    comma = next(row for row in rows if "," in row["community"] and row["rfs_date"])
    communities = [comma["community"], next(row["community"] for row in rows if "'" in row["community"]), "Winson"]
    filters = filters_that_keep(comma, communities)

    saved = tmp_path / "stock.csv"
    environment = {
        "PYTHONPATH": str(generated),
        "FILTERS": json.dumps(filters),
        "TOKEN": token,
        "TOKEN_WITHOUT_ROLE": auth_headers(roles=[])["Authorization"].removeprefix("Bearer "),
    }
    used = subprocess.run(
        [client_python, "-c", USES_A_STOCK_CLIENT, live_server.url, saved],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert used.returncode == 0, used.stderr
    report = json.loads(used.stdout)

    assert saved.read_bytes() == curl_csv(live_server, token, filters)
    kept = list(csv.DictReader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
    assert comma in kept
    assert len(kept) == report["total"]
    for status in (400, 401, 403):
        assert report[str(status)]["status"] == status
        assert report[str(status)]["detail"]
    assert "'Winsen' (did you mean 'Winson'?)" in report["400"]["detail"]


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
    assert re.fullmatch(r"directmail-[a-z0-9-]+-and-1-more-s1-s2-s3-\d{4}-\d{2}-\d{2}\.csv", saved.name)

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
