"""Request id: accept a sane `X-Request-ID` from the caller or make one, echo it, bind it to logs."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
# Anything else (too long, spaces, control characters) could forge log lines, so it is replaced.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_for(offered: str) -> str:
    """The id a request offering `offered` (empty for none) is served under."""
    return offered if _SANE_ID.fullmatch(offered) else uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being served, also inside Flask's worker threads."""
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(Headers(scope=scope).get(HEADER, ""))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        token = _request_id.set(request_id)
        try:
            with structlog.contextvars.bound_contextvars(**{"http.request.id": request_id}):
                await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)
