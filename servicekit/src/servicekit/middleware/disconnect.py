"""Tell Flask's threads when the client has gone: hung up, or stopped reading for too long.

Connexion's FlaskApp never passes the ASGI disconnect to Flask (spec-first/connexion#1822), so a
download whose client hung up would keep its query running to the end. This middleware listens for
`http.disconnect` and sets a `Disconnection` in the scope, which `servicekit.downloads` checks between
chunks and asks to cancel its query the moment it is set.

A client that reads nothing makes uvicorn's send() wait (flow control), then a2wsgi's thread wait for
the loop, holding the download's slot, connection and thread for as long as the client likes. A response
given an idle limit (`Disconnection.idle_seconds`, set by a download) is cut when a send has waited that
long without the client making progress: acknowledging a byte, as its kernel counts them
(`servicekit.tcp_delivery`). Not the send's own wait: the server's send buffer takes more only once
much of it has drained, so a client reading steadily at tens of KB/s can leave one send waiting longer
than the limit. Where the kernel keeps no count, a send's wait is all there is to go by. A cut client
counts as gone, and the rest of the response goes nowhere, so that the thread runs on to its end; the
response is never completed, so uvicorn closes the connection without a clean end.

A response still running when the server's graceful shutdown times out is cut too (`by_shutdown`), so
that a download tells its end from a client's going.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import connexion.context
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.tcp_delivery import TcpDelivery, tcp_delivery

SCOPE_KEY = "servicekit.disconnected"
# How often a waiting send looks for the client's progress, at most: a fraction of the idle limit.
PROGRESS_CHECKS_PER_LIMIT = 4

log = structlog.get_logger(__name__)


class Disconnection:
    """Set once, from the event loop's side, when the client has gone; read from any thread."""

    def __init__(self) -> None:
        self.idle_seconds: float | None = None  # how long a send may wait for the client; None: no limit
        self.by_shutdown = False  # the server cut the response at shutdown: the client did not go
        self._event = threading.Event()
        # Held while the callbacks run, so that one unregistered has finished and will not run later.
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, *, by_shutdown: bool = False) -> None:
        """Blocking while the callbacks run: call it off the event loop (but at shutdown)."""
        with self._lock:
            if self._event.is_set():
                return
            self.by_shutdown = by_shutdown
            self._event.set()
            for callback in self._callbacks:
                callback()

    @contextmanager
    def calling(self, callback: Callable[[], None]) -> Iterator[None]:
        """`callback` runs when the client goes while the block runs (at once, if it has already gone)."""
        with self._lock:
            gone = self._event.is_set()
            if not gone:
                self._callbacks.append(callback)
        if gone:
            callback()
        try:
            yield
        finally:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)


def disconnection() -> Disconnection:
    """The disconnection of the request being served (call it in a view)."""
    gone: Disconnection = connexion.context.scope[SCOPE_KEY]
    return gone


class DisconnectMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gone = scope[SCOPE_KEY] = Disconnection()
        # One message at a time: the listener reads on only as the app takes, so a request body
        # still flows at the app's pace (uvicorn reads from the socket only when asked).
        messages: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)

        async def listen() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    await asyncio.to_thread(gone.set)  # before queueing: the app may never read again
                await messages.put(message)
                if message["type"] == "http.disconnect":
                    return

        listener = asyncio.create_task(listen())
        try:
            await self.app(scope, messages.get, _IdleLimitedSend(send, gone, tcp_delivery(scope)))
        except asyncio.CancelledError:
            # uvicorn cancels what still runs once its graceful shutdown has timed out. Said at once, on
            # the loop: the lifespan's end, which writes the last audit events, comes next. Not raised on:
            # uvicorn would log the cancellation's traceback as an error of the app's; the response stays
            # incomplete, so the client still sees a broken transfer.
            gone.set(by_shutdown=True)
            log.warning("response cut: the graceful shutdown's timeout has passed")
        finally:
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener


class _IdleLimitedSend:
    def __init__(self, send: Send, gone: Disconnection, delivery: TcpDelivery | None) -> None:
        self._send = send
        self._gone = gone
        self._delivery = delivery
        self._cut = False

    async def __call__(self, message: Message) -> None:
        if self._cut:
            return
        limit = self._gone.idle_seconds
        if limit is None:
            await self._send(message)
            return
        sending = asyncio.ensure_future(self._send(message))
        try:
            await self._while_progressing(sending, limit)
        except TimeoutError:
            self._cut = True
        finally:
            if not sending.done():  # cut, or cancelled at shutdown
                sending.cancel()
                with suppress(asyncio.CancelledError):
                    await sending
        if self._cut:
            log.warning("client cut: it made no progress for the idle limit", idle_seconds=limit)
            await asyncio.to_thread(self._gone.set)

    async def _while_progressing(self, sending: asyncio.Future[None], limit: float) -> None:
        """Waits for `sending`; raises TimeoutError once the client has made no progress for `limit`."""
        loop = asyncio.get_running_loop()
        acknowledged = self._acknowledged()
        idle_since = loop.time()
        while True:
            done, _ = await asyncio.wait({sending}, timeout=limit / PROGRESS_CHECKS_PER_LIMIT)
            if done:
                return sending.result()
            now_acknowledged = self._acknowledged()
            if now_acknowledged is not None and now_acknowledged != acknowledged:
                acknowledged, idle_since = now_acknowledged, loop.time()
            elif loop.time() - idle_since >= limit:
                raise TimeoutError

    def _acknowledged(self) -> int | None:
        return self._delivery.acknowledged() if self._delivery is not None else None
