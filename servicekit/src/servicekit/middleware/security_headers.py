"""Security headers on every response, and `Cache-Control: no-store` on everything but Swagger UI's assets."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Data and errors are never rendered as pages, so they get the strictest policy there is.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# Swagger UI draws its icons from data: URIs and styles its elements inline; its login talks to Entra ID.
# Its scripts come from its own folder only: the page holds a staff member's token, and script injected
# into it must not run. A service's own page (servicekit.swagger_ui) starts itself from a file.
SWAGGER_UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self' https://login.microsoftonline.com; "
    "form-action 'self' https://login.microsoftonline.com; frame-ancestors 'none'; base-uri 'self'"
)
# Connexion's stock page, for a service without a page of its own, starts itself with an inline script.
STOCK_SWAGGER_UI_CSP = SWAGGER_UI_CSP.replace("script-src 'self';", "script-src 'self' 'unsafe-inline';")
RawHeaders = list[tuple[bytes, bytes]]


def security_headers(*, swagger_ui: bool, hsts_max_age_seconds: int, stock_swagger_ui: bool = False) -> RawHeaders:
    """What a response gets, as ASGI raw headers: Swagger UI's pages their own policy and the browser's cache;
    `stock_swagger_ui`: the service serves Connexion's stock page, which needs inline script."""
    csp = (STOCK_SWAGGER_UI_CSP if stock_swagger_ui else SWAGGER_UI_CSP) if swagger_ui else API_CSP
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    headers.append((b"content-security-policy", csp.encode()))
    if hsts_max_age_seconds:
        headers.append((b"strict-transport-security", f"max-age={hsts_max_age_seconds}; includeSubDomains".encode()))
    if not swagger_ui:
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeadersMiddleware:
    def __init__(
        self, app: ASGIApp, *, swagger_ui_path: str, hsts_max_age_seconds: int, stock_swagger_ui: bool
    ) -> None:
        self.app = app
        self.swagger_ui_path = swagger_ui_path
        # Made once: every response gets one of these two lists.
        self.api_headers = _with_names(security_headers(swagger_ui=False, hsts_max_age_seconds=hsts_max_age_seconds))
        self.swagger_ui_headers = _with_names(
            security_headers(
                swagger_ui=True, hsts_max_age_seconds=hsts_max_age_seconds, stock_swagger_ui=stock_swagger_ui
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        is_swagger_ui = path == self.swagger_ui_path or path.startswith(f"{self.swagger_ui_path}/")
        ours, names = self.swagger_ui_headers if is_swagger_ui else self.api_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Ours replace any the app set under the same names.
                kept = [(name, value) for name, value in message.get("headers", ()) if name.lower() not in names]
                message["headers"] = kept + ours
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_names(headers: RawHeaders) -> tuple[RawHeaders, frozenset[bytes]]:
    return headers, frozenset(name for name, _value in headers)
