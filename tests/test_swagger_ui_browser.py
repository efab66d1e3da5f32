"""Swagger UI in a real browser (Debian's Chromium, driven by Playwright), as marketing staff use it:
it loads under the service's Content-Security-Policy, takes a pasted token, and runs an operation."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from servicekit.testing import FakeEntra, LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and nothing that reaches for the network: this machine has none.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []

    def keep_errors(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", keep_errors)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page, problems
    context.close()


def test_swagger_ui_runs_under_the_csp_and_calls_the_api_with_a_pasted_token(
    live_server: LiveServer, page: tuple[Page, list[str]], fake_entra: FakeEntra
) -> None:
    browser_page, problems = page
    browser_page.goto(f"{live_server.url}/ui/")
    expect(browser_page.locator(".swagger-ui .info .title")).to_contain_text("Directmail")
    expect(browser_page.locator(".opblock-summary-path", has_text="/directmail-csv")).to_be_visible()

    browser_page.get_by_role("button", name="Authorize").first.click()
    token = fake_entra.make_token(roles=["Directmail.Read"], name="Marketing Person")
    browser_page.locator(".auth-container", has_text="bearer").locator("input").fill(token)
    browser_page.locator(".auth-container", has_text="bearer").get_by_role("button", name="Authorize").click()
    browser_page.get_by_role("button", name="Close").first.click()

    browser_page.locator(".opblock-summary-path", has_text="/me").click()
    browser_page.get_by_role("button", name="Try it out").click()
    browser_page.get_by_role("button", name="Execute").click()
    response = browser_page.locator(".responses-table.live-responses-table")
    expect(response.locator("tbody .response-col_status").first).to_have_text("200")
    expect(response).to_contain_text("Marketing Person")
    assert not [problem for problem in problems if "Content Security Policy" in problem], problems
