"""Refuse requests nothing after this should parse: 414 for a long URL, 413 for a declared large body,
400 for a URL that is not UTF-8 once percent-decoded.

Undecodable bytes would be read two ways: the validator sees U+FFFD where the view sees the raw escape,
so a value could pass the spec's rules and still reach the view as something else."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from connexion.exceptions import ProblemException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, max_url_bytes: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._check(scope)
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> None:
        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
        if url_bytes > self.max_url_bytes:
            raise ProblemException(
                status=414,
                title="URI Too Long",
                detail=f"The URL is {url_bytes} bytes; the limit is {self.max_url_bytes}.",
            )
        for part, raw in (("path", scope.get("raw_path") or b""), ("query string", scope["query_string"])):
            try:
                unquote_to_bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                raise ProblemException(
                    status=400, title="Bad Request", detail=f"The URL's {part} is not UTF-8 once percent-decoded."
                ) from None
        declared = Headers(scope=scope).get("content-length", "0")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise ProblemException(
                status=413,
                title="Content Too Large",
                detail=f"The body is {declared} bytes; the limit is {self.max_body_bytes}.",
            )
