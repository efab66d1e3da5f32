"""Swagger UI's pages hold a staff member's token, so their policy lets no inline script run: every page we
serve must start itself from files (tests/test_swagger_ui_browser.py runs them in Chromium under it)."""

from __future__ import annotations

from html.parser import HTMLParser

from starlette.testclient import TestClient

from app import SWAGGER_UI

# Not run by the browser: the page's settings travel in one.
DATA_SCRIPT_TYPES = {"application/json"}


class InlineCode(HTMLParser):
    """What in a page would run as inline script: a script element without `src`, an `on…` handler
    attribute, a `javascript:` URL."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes and attributes.get("type") not in DATA_SCRIPT_TYPES:
            self.found.append(f"<script> at line {self.getpos()[0]}")
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=...> at line {self.getpos()[0]}")


def inline_code(page: str) -> list[str]:
    parser = InlineCode()
    parser.feed(page)
    return parser.found


def test_no_page_of_swagger_ui_runs_inline_script(client: TestClient) -> None:
    pages = {"/ui/": client.get("/ui/").text}
    for html in SWAGGER_UI.glob("*.html"):
        pages[f"/ui/{html.name}"] = client.get(f"/ui/{html.name}").text
    assert "/ui/oauth2-redirect.html" in pages  # where Entra's login comes back to
    assert {path: inline_code(page) for path, page in pages.items()} == {path: [] for path in pages}


def test_swagger_uis_policy_runs_scripts_from_its_own_folder_only(client: TestClient) -> None:
    policy = client.get("/ui/").headers["content-security-policy"]
    directives = dict(directive.strip().partition(" ")[::2] for directive in policy.split(";"))
    assert directives["script-src"] == "'self'"


def test_the_check_finds_inline_script() -> None:
    page = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="JavaScript:alert(3)">'
    assert len(inline_code(page)) == 3
