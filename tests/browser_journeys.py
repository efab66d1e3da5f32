"""What the browser tests share: Chromium as they launch it, where their screenshots go, and the oracle every
download in a browser is held to, the file curl saves for the same request."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import httpx
from playwright.sync_api import Browser, sync_playwright

from config import PROJECT_ROOT

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
SCREENSHOTS = PROJECT_ROOT / "var" / "test-artifacts"


def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, for a module's tests (its `browser` fixture)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def curl_saves(url: httpx.URL, token: str) -> tuple[bytes, str]:
    """What curl saves from `url` with `token`, and the file name the server gives it."""
    headers = ["-D", "-", "-o", "/dev/stderr", "-H", f"Authorization: Bearer {token}"]
    result = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "--compressed", *headers, str(url)], capture_output=True, check=True
    )
    disposition = next(
        line for line in result.stdout.decode().splitlines() if line.lower().startswith("content-disposition:")
    )
    return result.stderr, disposition.split('filename="', 1)[1].rstrip('"')
