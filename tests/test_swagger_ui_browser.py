"""Swagger UI's API console in a real browser (Debian's Chromium, driven by Playwright), one click from the
mailing-list form /ui/ opens on (tests/test_mailing_list_form.py): it loads our package under the service's
Content-Security-Policy, takes a pasted token, pre-fills no filter, picks communities from the list, previews
the count and saves the very file curl gets. A failing test leaves a screenshot in var/test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from app import create_app
from config import Settings
from servicekit.testing import FakeEntra, LiveServer
from tests.browser_journeys import SCREENSHOTS, chromium, curl_saves

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    failed_before = request.session.testsfailed

    def keep_errors(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", keep_errors)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page, problems
    # The test's own report is in by teardown. (A hook in a test module, as this once had, pytest never calls.)
    if request.session.testsfailed > failed_before:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{request.node.name}.png", full_page=True)
    context.close()


def open_console(page: Page, url: str) -> None:
    """/ui/ as engineers reach the API console: the form first, the console one click away."""
    page.goto(f"{url}/ui/")
    page.get_by_role("button", name="API console for engineers").click()


def authorize(page: Page, token: str) -> None:
    """Pastes `token` into the bearer scheme, as the README tells local users to."""
    page.get_by_role("button", name="Authorize").first.click()
    bearer = page.locator(".auth-container", has_text="bearer")
    bearer.locator("input").fill(token)
    bearer.get_by_role("button", name="Apply credentials").click()
    page.get_by_role("button", name="Close").first.click()


def operation(page: Page, operation_id: str) -> Locator:
    """The operation's block, opened, with Try it out on."""
    block = page.locator(f"[id$='-{operation_id}']").first
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    return block


def test_swagger_ui_runs_under_the_csp_and_calls_the_api_with_a_pasted_token(
    live_server: LiveServer, page: tuple[Page, list[str]], fake_entra: FakeEntra
) -> None:
    browser_page, problems = page
    browser_page.goto(f"{live_server.url}/ui/")
    expect(browser_page).to_have_title("Directmail · test")
    expect(browser_page.get_by_test_id("mailing-list-form")).to_be_visible()
    expect(browser_page.locator(".opblock-summary-path", has_text="/directmail-csv")).to_be_hidden()
    browser_page.get_by_role("button", name="API console for engineers").click()
    expect(browser_page.locator(".opblock-summary-path", has_text="/directmail-csv")).to_be_visible()
    browser_page.get_by_role("button", name="Mailing list", exact=True).click()
    expect(browser_page.get_by_test_id("mailing-list-form")).to_be_visible()
    browser_page.get_by_role("button", name="API console for engineers").click()

    authorize(browser_page, fake_entra.make_token(roles=["Directmail.Read"], name="Marketing Person"))
    me = operation(browser_page, "get_me")
    me.get_by_role("button", name="Execute").click()
    response = me.locator(".responses-table.live-responses-table")
    expect(response.locator("tbody .response-col_status").first).to_have_text("200")
    expect(response).to_contain_text("Marketing Person")
    assert not [problem for problem in problems if "Content Security Policy" in problem], problems


def test_a_link_to_an_operation_opens_the_api_console(live_server: LiveServer, page: tuple[Page, list[str]]) -> None:
    browser_page, _ = page
    browser_page.goto(f"{live_server.url}/ui/#/directmail/get_directmail_csv")
    expect(browser_page.get_by_test_id("api-console")).to_be_visible()
    expect(browser_page.get_by_test_id("mailing-list-form")).to_be_hidden()


def test_the_authorize_dialog_leads_with_the_pasted_token_where_no_login_is_configured(
    live_server: LiveServer, page: tuple[Page, list[str]]
) -> None:
    browser_page, _ = page
    open_console(browser_page, live_server.url)
    browser_page.get_by_role("button", name="Authorize").first.click()
    expect(browser_page.locator(".auth-container").first).to_contain_text("bearer")


def test_the_authorize_dialog_leads_with_entra_where_its_login_is_configured(
    make_settings: Callable[..., Settings], page: tuple[Page, list[str]]
) -> None:
    browser_page, _ = page
    settings = make_settings(swagger_ui_client_id="swagger-spa-id")
    with LiveServer(create_app(settings), settings) as server:
        open_console(browser_page, server.url)
        browser_page.get_by_role("button", name="Authorize").first.click()
        entra = browser_page.locator(".auth-container").first
        expect(entra).to_contain_text("entra")
        # The service sets the login's client: nothing to type, nothing to get wrong.
        expect(entra.locator("label[for^=client_id], label[for^=client_secret]")).to_have_count(2)
        expect(entra.get_by_label("client_id:")).to_be_hidden()
        expect(entra.get_by_label("client_secret:")).to_be_hidden()


def test_try_it_out_fills_in_no_filter_and_clear_clears(
    live_server: LiveServer, page: tuple[Page, list[str]], fake_entra: FakeEntra
) -> None:
    browser_page, _ = page
    open_console(browser_page, live_server.url)
    authorize(browser_page, fake_entra.make_token(roles=["Directmail.Read"]))
    summary = operation(browser_page, "get_directmail_summary")
    fields = summary.locator("tr[data-param-name] input[type=text], tr[data-param-name] select")
    expect(fields.first).to_be_visible()
    assert [field.input_value() for field in fields.all()] == [""] * fields.count()

    summary.locator("tr[data-param-name=rfs_date_after] input").fill("2020-01-01")
    summary.get_by_role("button", name="Execute").click()
    expect(summary.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    summary.get_by_role("button", name="Clear").click()
    expect(summary.locator("tr[data-param-name=rfs_date_after] input")).to_have_value("")


def test_staff_pick_communities_see_the_count_and_save_the_file_curl_gets(
    live_server: LiveServer, page: tuple[Page, list[str]], fake_entra: FakeEntra, tmp_path: Path
) -> None:
    browser_page, problems = page
    token = fake_entra.make_token(roles=["Directmail.Read"])
    auth = {"Authorization": f"Bearer {token}"}
    names = [community["name"] for community in httpx.get(f"{live_server.url}/communities", headers=auth).json()]
    picked = [next(name for name in names if "," in name), next(name for name in names if "'" in name)]

    open_console(browser_page, live_server.url)
    authorize(browser_page, token)
    csv_operation = operation(browser_page, "get_directmail_csv")
    search = csv_operation.get_by_test_id("community-search")
    for name in picked:
        search.fill(name[:5])
        csv_operation.locator(f'[data-testid=community-option][data-name="{name}"]').check()
    csv_operation.locator("tr[data-param-name=bom] select").select_option("true")

    quoted = ",".join(f'"{name}"' if "," in name else name for name in picked)
    counted = httpx.get(f"{live_server.url}/directmail-summary", params={"communities": quoted}, headers=auth).json()
    assert counted["total"] > 0
    expect(csv_operation.get_by_test_id("summary-preview")).to_have_text(
        f"{counted['total']:,} premises in {len(picked)} communities"
    )

    with browser_page.expect_download() as download_info:
        csv_operation.get_by_test_id("download-csv").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    expect(csv_operation.get_by_test_id("download-status")).to_have_text(f"Saved {download.suggested_filename}")

    url = httpx.URL(f"{live_server.url}/directmail-csv", params={"communities": quoted, "bom": "true"})
    assert (saved.read_bytes(), download.suggested_filename) == curl_saves(url, token)  # the server's name for it
    assert saved.read_bytes().startswith(b"\xef\xbb\xbf")
    assert not problems, problems
