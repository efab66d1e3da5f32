"""One access log line per request, written when the last byte has gone (so streams are timed whole).

Its `event.outcome` is a failure for a 5xx, and for a response the client did not get whole: the app
raised, or the client left before the body ended. A body ends with the app's last message, or, when the
response declared a Content-Length, once that many bytes have gone: a WSGI app (Flask, through a2wsgi)
sends its body, then an empty last message from its thread, and a client that has read the declared
length may hang up in between, having had everything.
"""

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
        declared_bytes: int | None = None
        outcome = "success"
        complete = False
        hung_up = False

        async def counting_send(message: Message) -> None:
            nonlocal status, sent_bytes, declared_bytes, complete
            if message["type"] == "http.response.start":
                status = message["status"]
                declared_bytes = _declared_length(scope, message)
            elif message["type"] == "http.response.body":
                sent_bytes += len(message.get("body", b""))
                complete = not message.get("more_body", False) or sent_bytes == declared_bytes
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


def _declared_length(scope: Scope, start: Message) -> int | None:
    """How many body bytes the response head promised, when it promised a number."""
    if scope["method"] == "HEAD" or start["status"] in (204, 304):
        return 0
    for name, value in start.get("headers", ()):
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else None
    return None
