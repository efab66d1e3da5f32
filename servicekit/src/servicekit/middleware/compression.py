"""Response compression: starlette-compress's zstd, brotli and gzip, with the coding the client prefers.

starlette-compress picks by its own order among every coding the client accepts at all, so a client
saying `gzip;q=1, br;q=0.5` would get brotli. Here the request's `Accept-Encoding` is narrowed to the one
coding `chosen_coding` prefers by q-value before starlette-compress reads it; the service below then sees
that coding too, and a download compressing in its own thread (`servicekit.downloads`) uses it: its
response arrives with a `Content-Encoding`, which starlette-compress leaves alone.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette_compress import CompressMiddleware, add_compress_type

from servicekit.compression import CompressionLevels, chosen_coding

# Not in starlette-compress's list of types worth compressing: our error bodies, and CSV, which streams
# (headers at once, a flush per body message) rather than waiting to see how big the body is.
add_compress_type("application/problem+json")
add_compress_type("text/csv", streaming=True)


class CompressionMiddleware(CompressMiddleware):
    def __init__(self, app: ASGIApp, *, levels: CompressionLevels) -> None:
        super().__init__(app, zstd_level=levels.zstd, brotli_quality=levels.brotli, gzip_level=levels.gzip)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            accepted = ", ".join(Headers(scope=scope).getlist("accept-encoding"))
            scope = _with_one_coding(scope, chosen_coding(accepted))
        await super().__call__(scope, receive, send)


def _with_one_coding(scope: Scope, coding: str | None) -> Scope:
    headers = [(name, value) for name, value in scope["headers"] if name != b"accept-encoding"]
    if coding is not None:
        headers.append((b"accept-encoding", coding.encode()))
    return {**scope, "headers": headers}
