"""Download slots admitted on the event loop, after security and validation, rather than in a Flask thread.

A refusal that went on to a view would first wait for a free worker thread, and then for the GIL behind
every download's thread, only to be refused there: under load that took tens of milliseconds. Here it
is one lookup. It comes after Connexion's security, which names the caller for the per-caller limit,
and after its validation, so that a request without a valid token is a 401 and a malformed one a 400
however many downloads run. The slot goes into the scope for the view's download to claim; one no
download claimed (the view refused the request) is given back when the response ends.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.downloads import SLOT_KEY, Downloads, request_caller
from servicekit.internals.connexion import routed_operation_id


class DownloadSlotsMiddleware:
    def __init__(self, app: ASGIApp, *, downloads: Downloads) -> None:
        self.app = app
        self.downloads = downloads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation_id = routed_operation_id(scope)
        if scope["type"] != "http" or operation_id is None:
            await self.app(scope, receive, send)
            return
        # Raises when there is no slot for the caller: Connexion's error handlers answer 503.
        slot = self.downloads.admit(operation_id, request_caller(scope))
        if slot is None:
            await self.app(scope, receive, send)
            return
        scope[SLOT_KEY] = slot
        try:
            await self.app(scope, receive, send)
        finally:
            slot.give_back(unless_claimed=True)
