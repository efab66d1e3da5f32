"""A TypeScript client of Directmail as another team makes one, with the openapi-ts project's stock tools at
their defaults (tests/stock_clients/typescript; `make test` installs them from their lock file): types that
openapi-typescript generates from the served /openapi.json, a program (use_client.ts) that tsc type-checks
against them, and openapi-fetch's requests, run by node against a live uvicorn with a real token. What it
downloads is what curl gets, byte for byte; its summary counts those rows; a refusal is the problem object."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from config import PROJECT_ROOT
from servicekit.testing import LiveServer

STOCK = PROJECT_ROOT / "tests" / "stock_clients" / "typescript"
# A comma, an apostrophe and a Welsh circumflex; with every filter use_client.ts sets, each still has rows.
COMMUNITIES = ["Ashton Keynes, Wiltshire", "King's Sutton", "Tŷ Croes"]
EVERY_FILTER = {"communities", "rfs", "rfs_date_after", "rfs_date_before", "business", "bduk", "segments"}
BOM = b"\xef\xbb\xbf"

pytestmark = pytest.mark.slow


def npx(*command: str | Path) -> subprocess.CompletedProcess[str]:
    """A tool of the pinned package: --no, so that npx never fetches one of its own choosing."""
    return subprocess.run(["npx", "--no", "--", *command], cwd=STOCK, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def program(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """use_client.ts compiled beside the types generated from the served spec, in a folder of the test's own
    (the checkout stays untouched) that reaches the pinned packages through a link to their node_modules."""
    assert (STOCK / "node_modules" / ".installed-from-lock").exists(), "`make test` installs the stock tools"
    folder = tmp_path_factory.mktemp("stock-typescript")
    for name in ("package.json", "tsconfig.json", "use_client.ts"):
        shutil.copy(STOCK / name, folder)
    (folder / "node_modules").symlink_to(STOCK / "node_modules")
    (folder / "openapi.json").write_text(httpx.get(f"{live_server.url}/openapi.json").text)

    generated = npx("openapi-typescript", folder / "openapi.json", "--output", folder / "directmail.d.ts")
    assert generated.returncode == 0, generated.stderr
    checked = npx("tsc", "--project", folder)
    assert checked.returncode == 0, checked.stdout  # tsc reports type errors on stdout
    return folder / "use_client.js"


def use(program: Path, url: str, saved: Path, communities: list[str], token: str | None) -> dict[str, Any]:
    """What the program reports; the token in the environment, as a deployment would pass it."""
    env = {"PATH": os.environ["PATH"]} | ({"DIRECTMAIL_TOKEN": token} if token else {})
    used = subprocess.run(
        ["node", program, url, saved, *communities], env=env, capture_output=True, text=True, timeout=60
    )
    assert used.returncode == 0, used.stderr
    report: dict[str, Any] = json.loads(used.stdout)
    return report


def typed_by_hand(value: str | bool | list[str]) -> str:
    """A filter's value as curl users type it: a list as one CSV line, a name with a comma in quotes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(value)
    return line.getvalue()


def curl_csv(url: str, token: str, filters: dict[str, Any]) -> bytes:
    """The CSV as curl downloads it, each filter typed by hand and percent-encoded by curl itself."""
    query = [f"{name}={typed_by_hand(value)}" for name, value in filters.items()] + ["bom=true"]
    encoded = [option for pair in query for option in ("--data-urlencode", pair)]
    curl = ["curl", "-sS", "--fail-with-body", "--compressed", "-H", f"Authorization: Bearer {token}", "-G"]
    downloaded = subprocess.run([*curl, *encoded, f"{url}/directmail-csv"], capture_output=True, check=True, timeout=60)
    return downloaded.stdout


def test_the_stock_client_downloads_what_curl_gets_with_every_filter_and_its_summary_counts_it(
    program: Path, live_server: LiveServer, staff: dict[str, str], tmp_path: Path
) -> None:
    token = staff["Authorization"].removeprefix("Bearer ")
    saved = tmp_path / "directmail.csv"
    report = use(program, live_server.url, saved, COMMUNITIES, token)

    filters = report["filters"]
    assert set(filters) == EVERY_FILTER
    assert filters["communities"] == COMMUNITIES
    assert len(filters["segments"]) >= 2
    # openapi-fetch's default, as the spec declares them: one `communities` per name, each exactly as it is.
    sent = httpx.URL(report["csv"]["url"]).params
    assert sent.get_list("communities") == COMMUNITIES
    assert sent.get_list("segments") == filters["segments"]
    assert sent["bom"] == "true"
    assert report["csv"]["status"] == 200
    assert report["csv"]["contentType"].startswith("text/csv")

    expected = curl_csv(live_server.url, token, filters)
    assert saved.read_bytes() == expected
    assert report["csv"]["bytes"] == len(expected)
    assert expected.startswith(BOM)  # the byte-order mark asked for, kept as it came
    rows = list(csv.reader(io.StringIO(expected.decode("utf-8-sig"))))[1:]
    per_community = Counter(row[6] for row in rows)
    assert set(per_community) == set(COMMUNITIES)

    summary = report["summary"]
    assert summary["status"] == 200
    assert httpx.URL(summary["url"]).params.get_list("communities") == COMMUNITIES
    assert summary["counted"]["total"] == len(rows) > 0
    assert {count["name"]: count["premises"] for count in summary["counted"]["communities"]} == per_community


@pytest.mark.parametrize(
    ("token_claims", "communities", "status"),
    [
        pytest.param({}, ["Atlantis", *COMMUNITIES], 400, id="an unknown community"),
        pytest.param(None, COMMUNITIES, 401, id="no token"),
        pytest.param({"wrong_key": True}, COMMUNITIES, 401, id="a token signed by a key Entra never published"),
        pytest.param({"roles": []}, COMMUNITIES, 403, id="a token without the role"),
    ],
)
def test_the_stock_client_gets_a_refusal_as_the_problem_object(
    program: Path,
    live_server: LiveServer,
    auth_headers: Callable[..., dict[str, str]],
    tmp_path: Path,
    token_claims: dict[str, Any] | None,
    communities: list[str],
    status: int,
) -> None:
    token = None if token_claims is None else auth_headers(**token_claims)["Authorization"].removeprefix("Bearer ")
    saved = tmp_path / "directmail.csv"
    report = use(program, live_server.url, saved, communities, token)

    for answer in (report["summary"], report["csv"]):
        assert answer["status"] == status
        assert answer["contentType"] == "application/problem+json"
        problem = answer["problem"]
        assert problem["status"] == status
        assert problem["title"]
        assert problem["detail"]
        assert problem["request_id"]
    assert "counted" not in report["summary"]
    assert not saved.exists()
    if status == 400:
        assert "Atlantis" in report["csv"]["problem"]["detail"]
