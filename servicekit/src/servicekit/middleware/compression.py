"""Response compression: brotli-asgi's, choosing the coding by the client's `Accept-Encoding` q-values.

brotli-asgi compresses with brotli whenever "br" appears in the header, even in `br;q=0`, which refuses
it, and in `gzip;q=1, br;q=0.5`, which prefers gzip. Werkzeug's parser weighs the q-values (and `*`).
"""

from __future__ import annotations

from brotli_asgi import BrotliMiddleware, BrotliResponder
from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipResponder
from starlette.types import ASGIApp, Receive, Scope, Send
from werkzeug.http import parse_accept_header

CODINGS = ("br", "gzip")  # on a tie, brotli: smaller for the same work


class CompressionMiddleware(BrotliMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_handler_excluded(scope):
            await self.app(scope, receive, send)
            return
        await self._responder(Headers(scope=scope).get("accept-encoding", ""))(scope, receive, send)

    def _responder(self, accept_encoding: str) -> ASGIApp:
        coding = parse_accept_header(accept_encoding).best_match(CODINGS)
        if coding == "br":
            return BrotliResponder(self.app, self.quality, self.mode, self.lgwin, self.lgblock, self.minimum_size)
        if coding == "gzip":
            return GZipResponder(self.app, self.minimum_size)
        return self.app
