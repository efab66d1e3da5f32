"""Who gets a download slot, over a real uvicorn: one caller cannot hold every slot, and however many
downloads run, a request without a valid token is a 401 and a malformed one a 400, never a 503."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from servicekit import Database
from servicekit.testing import DownloadServer, LiveServer, assert_problem, eventually, slow_reader
from tests.fixture_service import FixtureSettings, create_app

pytestmark = pytest.mark.slow
ROWS = 2_000_000  # about 15 MB uncompressed: far more than the socket buffers hold, so a download stays open
SLOTS = 2
PER_CALLER = 1


@pytest.fixture(scope="module")
def download_server(make_settings: Callable[..., FixtureSettings], database_url: str) -> Iterator[DownloadServer]:
    settings = make_settings(export_concurrency=SLOTS, export_concurrency_per_caller=PER_CALLER)
    app = create_app(settings)
    with LiveServer(app, settings) as server:
        yield DownloadServer(server.url, app.parts.get(Database), database_url)


@pytest.fixture
def callers(auth_headers: Callable[..., dict[str, str]]) -> list[dict[str, str]]:
    """The headers of three callers, each a user of their own."""
    return [auth_headers(oid=f"00000000-0000-4000-8000-00000000010{n}") for n in range(3)]


def downloading(stack: ExitStack, url: str, headers: dict[str, str]) -> httpx.Response:
    """A download under way until `stack` closes: its headers in (its slot taken first), its body unread."""
    client = stack.enter_context(slow_reader(headers=headers | {"Accept-Encoding": "identity"}))
    return stack.enter_context(client.stream("GET", f"{url}/audited-numbers", params={"rows": ROWS}))


def test_one_caller_cannot_hold_every_slot(download_server: DownloadServer, callers: list[dict[str, str]]) -> None:
    first, second, _ = callers
    url = download_server.url
    with ExitStack() as firsts_download:
        assert downloading(firsts_download, url, first).status_code == 200
        refused = httpx.get(f"{url}/audited-numbers", params={"rows": 10}, headers=first, timeout=10)
        body = assert_problem(refused, 503, retry_after="30")
        assert "as many as one caller may" in body["detail"]
        with ExitStack() as seconds_download:  # a free slot is another caller's to take
            assert downloading(seconds_download, url, second).status_code == 200
    assert eventually(download_server.idle)
    assert httpx.get(f"{url}/audited-numbers", params={"rows": 10}, headers=first, timeout=10).status_code == 200


def test_while_every_slot_is_taken_a_bad_request_is_still_a_400_and_no_token_a_401(
    download_server: DownloadServer, callers: list[dict[str, str]]
) -> None:
    first, second, third = callers
    url = download_server.url
    with ExitStack() as stack:
        for caller in (first, second):
            assert downloading(stack, url, caller).status_code == 200
        malformed = httpx.get(f"{url}/audited-numbers", params={"rows": "none"}, headers=third, timeout=10)
        assert_problem(malformed, 400)
        assert_problem(httpx.get(f"{url}/audited-numbers", params={"rows": 10}, timeout=10), 401)
        valid = httpx.get(f"{url}/audited-numbers", params={"rows": 10}, headers=third, timeout=10)
        assert "All 2 download slots are busy" in assert_problem(valid, 503, retry_after="30")["detail"]
    assert eventually(download_server.idle)
