"""Redirects name a path, never the host a request claimed to be for.

Starlette's routers redirect `/items/` to `/items` (and Swagger UI's) with an absolute URL built from the
request's `Host` header, so a crafted request got `Location: http://evil.example/items`. A Location on
the request's own host becomes a relative one, which every client resolves against the URL it asked.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RelativeRedirectsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        claimed_host = Headers(scope=scope).get("host", "")

        async def send_relative(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = MutableHeaders(scope=message)
                location = urlsplit(headers.get("location", ""))
                if location.netloc and location.netloc == claimed_host:
                    headers["location"] = urlunsplit(("", "", location.path or "/", location.query, location.fragment))
            await send(message)

        await self.app(scope, receive, send_relative)
