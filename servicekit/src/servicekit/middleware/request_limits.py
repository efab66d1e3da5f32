"""Refuse requests nothing after this should parse: 414 for a long URL, 413 for a large body, 400 for a
URL that is not UTF-8 once percent-decoded.

A body of declared length is refused on its `Content-Length`. One without (`Transfer-Encoding: chunked`)
is read here, counted as it comes, before anything else runs: past the limit it is a 413 at once, where
the view would have read all of it. Within it, the body goes on as one of declared length: Connexion
validates a body by its `Content-Length`, and would take a chunked one for none at all. A 413 closes the
connection, so the server does not go on reading a body nobody wants.

Undecodable bytes would be read two ways: the validator sees U+FFFD where the view sees the raw escape,
so a value could pass the spec's rules and still reach the view as something else."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from connexion.exceptions import ProblemException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, max_url_bytes: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._check(scope)
            if "transfer-encoding" in Headers(scope=scope):
                receive = await self._read_bounded_body(scope, receive)
        await self.app(scope, receive, send)

    async def _read_bounded_body(self, scope: Scope, receive: Receive) -> Receive:
        """The body read to its end (or the client's disconnect), a 413 once it passes `max_body_bytes`; then
        the scope declares its length, and the `receive` returned hands its messages on in order."""
        messages: list[Message] = []
        received, more = 0, True
        while more:
            message = await receive()
            messages.append(message)
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise self._too_large(f"more than {self.max_body_bytes} bytes")
            more = message["type"] == "http.request" and message.get("more_body", False)
        framing = {b"transfer-encoding", b"content-length"}
        kept = [(name, value) for name, value in scope["headers"] if name.lower() not in framing]
        scope["headers"] = [*kept, (b"content-length", str(received).encode())]
        replayed = iter(messages)

        async def receive_replayed() -> Message:
            return next(replayed, None) or await receive()

        return receive_replayed

    def _too_large(self, size: str) -> ProblemException:
        return ProblemException(
            status=413,
            title="Content Too Large",
            detail=f"The body is {size}; the limit is {self.max_body_bytes}.",
            headers={"Connection": "close"},
        )

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
            raise self._too_large(f"{declared} bytes")
