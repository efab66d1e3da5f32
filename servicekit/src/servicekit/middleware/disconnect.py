"""Tell Flask's threads when the client has gone.

Connexion's FlaskApp never passes the ASGI disconnect to Flask (spec-first/connexion#1822), so a
download whose client hung up would keep its query running to the end. This middleware listens for
`http.disconnect` and sets a `threading.Event` in the scope, which `servicekit.downloads` checks
between chunks.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import suppress

import connexion.context
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCOPE_KEY = "servicekit.disconnected"


def disconnected_event() -> threading.Event:
    """The disconnect event of the request being served (call it in a view)."""
    event: threading.Event = connexion.context.scope[SCOPE_KEY]
    return event


class DisconnectMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        disconnected = scope[SCOPE_KEY] = threading.Event()
        # One message at a time: the listener reads on only as the app takes, so a request body
        # still flows at the app's pace (uvicorn reads from the socket only when asked).
        messages: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)

        async def listen() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()  # before queueing: the app may never read again
                await messages.put(message)
                if message["type"] == "http.disconnect":
                    return

        listener = asyncio.create_task(listen())
        try:
            await self.app(scope, messages.get, send)
        finally:
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener
