"""One access log line per request, written when the last byte has gone (so streams are timed whole)."""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.middleware.routes import operation_record

log = structlog.get_logger("servicekit.access")


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
        routed = operation_record(scope)
        status = 500
        sent_bytes = 0
        outcome = "success"
        complete = False
        hung_up = False

        async def counting_send(message: Message) -> None:
            nonlocal status, sent_bytes, complete
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent_bytes += len(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        async def watching_receive() -> Message:
            nonlocal hung_up
            message = await receive()
            hung_up = hung_up or (message["type"] == "http.disconnect" and not complete)
            return message

        try:
            await self.app(scope, watching_receive, counting_send)
        except BaseException:
            outcome = "failure"  # e.g. a download that broke off after its 200 was sent
            raise
        finally:
            if hung_up or not complete:
                outcome = "failure"  # the body never ended, or the client left before it did
            if status >= 400 or outcome == "failure" or scope["path"] not in self.quiet_paths:
                operation = routed.operation
                log.info(
                    "request",
                    **{
                        "http.request.method": scope["method"],
                        "url.path": scope["path"],
                        "http.route": operation.template if operation else None,
                        "http.response.status_code": status,
                        "http.response.body.bytes": sent_bytes,
                        "event.duration": time.perf_counter_ns() - started,
                        "event.outcome": "failure" if status >= 500 else outcome,
                    },
                )
