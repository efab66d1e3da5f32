"""One access log line per request, written when the last byte has gone (so streams are timed whole)."""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("directmail.access")


def route_template(scope: Scope) -> str | None:
    """The spec path that served the request (`/items/{id}`), never the raw path: logs stay groupable."""
    routing = scope.get("extensions", {}).get("connexion_routing", {})
    route = scope.get("route")
    if routing.get("operation_id") is None or route is None:
        return None
    return f"{routing.get('api_base_path', '')}{route.path}"


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, *, quiet_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        # Successful probes every few seconds would drown the lines people read; failures still log.
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter_ns()
        status = 500
        sent_bytes = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, sent_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent_bytes += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if status >= 400 or scope["path"] not in self.quiet_paths:
                log.info(
                    "request",
                    **{
                        "http.request.method": scope["method"],
                        "url.path": scope["path"],
                        "http.route": route_template(scope),
                        "http.response.status_code": status,
                        "http.response.body.bytes": sent_bytes,
                        "event.duration": time.perf_counter_ns() - started,
                    },
                )
