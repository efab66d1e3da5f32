"""Security headers on every response, and `Cache-Control: no-store` on everything but Swagger UI's assets."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Data and errors are never rendered as pages, so they get the strictest policy there is.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# Swagger UI's page starts itself with an inline script and draws its icons from data: URIs;
# its login talks to Entra ID.
SWAGGER_UI_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self' https://login.microsoftonline.com; "
    "form-action 'self' https://login.microsoftonline.com; frame-ancestors 'none'; base-uri 'self'"
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, swagger_ui_path: str, hsts_max_age_seconds: int) -> None:
        self.app = app
        self.swagger_ui_path = swagger_ui_path
        self.hsts = f"max-age={hsts_max_age_seconds}; includeSubDomains" if hsts_max_age_seconds else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        is_swagger_ui = path == self.swagger_ui_path or path.startswith(f"{self.swagger_ui_path}/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Content-Security-Policy"] = SWAGGER_UI_CSP if is_swagger_ui else API_CSP
                if self.hsts:
                    headers["Strict-Transport-Security"] = self.hsts
                if not is_swagger_ui:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
