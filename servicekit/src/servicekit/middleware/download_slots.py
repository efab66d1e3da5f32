"""Downloads refused on the event loop when every slot is taken, rather than in a Flask thread.

A refusal that went on to a view would first wait for a free worker thread, and then for the GIL behind
every download's thread, only to be refused there: under load that took tens of milliseconds. Here it
is one lookup, after security (a caller without a token still gets 401) and before validation.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.downloads import Downloads
from servicekit.internals.connexion import routed_operation_id


class DownloadSlotsMiddleware:
    def __init__(self, app: ASGIApp, *, downloads: Downloads) -> None:
        self.app = app
        self.downloads = downloads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation_id = routed_operation_id(scope)
        if scope["type"] == "http" and operation_id is not None:
            self.downloads.refuse_when_full(operation_id)  # raises: Connexion's error handlers answer 503
        await self.app(scope, receive, send)
