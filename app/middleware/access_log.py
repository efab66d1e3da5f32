"""One access log line per request, written when the last byte has gone (so streams are timed whole)."""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("directmail.access")


def route_templates(connexion_middleware: Any) -> dict[tuple[str, str], str]:
    """`(base path, operationId) -> "/base/items/{id}"` for every API the app serves.

    Connexion's routing tells which operation served a request but not its path template, and the
    Starlette route it matched stays in a scope we never see; the specs themselves know."""
    templates = {}
    for api in connexion_middleware.apis:
        base_path = api.specification.base_path if api.base_path is None else api.base_path
        for path, operations in api.specification["paths"].items():
            for operation in operations.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    templates[(base_path, operation["operationId"])] = f"{base_path}{path}"
    return templates


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, *, quiet_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        # Successful probes every few seconds would drown the lines people read; failures still log.
        self.quiet_paths = quiet_paths
        self._route_templates: dict[tuple[str, str], str] | None = None

    def route_template(self, scope: Scope) -> str | None:
        """The spec path that served the request, never the raw path: log lines stay groupable."""
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        if routing.get("operation_id") is None:
            return None
        if self._route_templates is None:
            self._route_templates = route_templates(scope["app"])
        return self._route_templates.get((routing["api_base_path"], routing["operation_id"]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter_ns()
        status = 500
        sent_bytes = 0
        outcome = "success"

        async def counting_send(message: Message) -> None:
            nonlocal status, sent_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent_bytes += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except BaseException:
            outcome = "failure"  # e.g. a download that broke off after its 200 was sent
            raise
        finally:
            if status >= 400 or outcome == "failure" or scope["path"] not in self.quiet_paths:
                log.info(
                    "request",
                    **{
                        "http.request.method": scope["method"],
                        "url.path": scope["path"],
                        "http.route": self.route_template(scope),
                        "http.response.status_code": status,
                        "http.response.body.bytes": sent_bytes,
                        "event.duration": time.perf_counter_ns() - started,
                        "event.outcome": "failure" if status >= 500 else outcome,
                    },
                )
