"""Request id: make one for every request, echo it and bind it to logs; keep a sane `X-Request-ID` from
the caller beside it (`http.request.caller_id`), never instead.

Ours is unique, so the audit trail and the logs can name a request by it alone; a caller's own id (a
proxy's, a client's) may repeat, or be chosen to match another request's, so it is only ever a second
field. The response's `X-Request-ID` is ours: the id to quote, which finds every line of the request,
the caller's id among them.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
# Anything else (too long, spaces, control characters) could forge log lines, so it is dropped.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_caller_request_id: ContextVar[str | None] = ContextVar("caller_request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def caller_request_id(offered: str) -> str | None:
    """The caller's own id as it may be kept beside ours, or None when it offered none or an unsafe one."""
    return offered if _SANE_ID.fullmatch(offered) else None


def current_request_id() -> str | None:
    """The id of the request being served, also inside Flask's worker threads."""
    return _request_id.get()


def current_caller_request_id() -> str | None:
    """The `X-Request-ID` the caller of the request being served offered, when it was sane."""
    return _caller_request_id.get()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        offered = caller_request_id(Headers(scope=scope).get(HEADER, ""))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        ours, theirs = _request_id.set(request_id), _caller_request_id.set(offered)
        ids = {"http.request.id": request_id} | ({"http.request.caller_id": offered} if offered else {})
        try:
            with structlog.contextvars.bound_contextvars(**ids):
                await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(ours)
            _caller_request_id.reset(theirs)
