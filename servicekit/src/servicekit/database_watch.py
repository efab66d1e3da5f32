"""Ends every wait on a database that has stopped answering without closing its connections.

A hung server (stopped, thrashing, behind a proxy that stopped forwarding) keeps its TCP connections open
and its kernel keeps acknowledging what is sent, so neither keepalives nor TCP_USER_TIMEOUT ever fire, and
a statement timeout is the server's own to enforce: libpq would wait for its answer for ever, and with it
a request, its Flask thread and its pooled connection. psycopg has no client-side limit on a statement,
and no wait can be given one from outside without its internals.

So, while any of a pool's connections is checked out, the watch asks the database every
DATABASE_TIMEOUT_SECONDS to answer `SELECT 1`, on a connection of its own, within as long. When it does
not, the watch shuts down the socket of every connection of the pool: a driver waiting on one sees the
connection closed and raises, and its request gets the kit's 503 with Retry-After. A statement that is
merely slow on a database that answers is left to its statement timeout.
"""

from __future__ import annotations

import asyncio
import os
import socket
import weakref
from contextlib import suppress
from typing import Any

import psycopg
import structlog
from sqlalchemy import Engine, event

log = structlog.get_logger(__name__)


class DatabaseWatch:
    """The watch over one pooled engine (the primary's, the replica's); `run()` watches until cancelled."""

    def __init__(self, engine: Engine, connect_arguments: dict[str, Any], timeout_seconds: float, *, name: str) -> None:
        self.engine = engine
        self.name = name
        self.timeout_seconds = timeout_seconds
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connect_arguments = connect_arguments
        # Every connection the pool makes, idle ones included: on a hung server they are all stuck.
        self._connections: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()
        self._probe: psycopg.AsyncConnection[Any] | None = None
        self._engines = [engine]
        event.listen(engine, "connect", self._made)

    def also(self, engine: Engine) -> None:
        """Watches `engine`'s connections too: another pool on the same server (downloads' helpers)."""
        self._engines.append(engine)
        event.listen(engine, "connect", self._made)

    def _made(self, dbapi_connection: psycopg.Connection[Any], _record: object) -> None:
        self._connections.add(dbapi_connection)

    async def run(self) -> None:
        """Every `timeout_seconds`, while a connection is checked out (a pre-ping included), whether the
        database answers; when it does not, every connection is cut. Runs until cancelled."""
        try:
            while True:
                await asyncio.sleep(self.timeout_seconds)
                checked_out = any(engine.pool.checkedout() for engine in self._engines)  # type: ignore[attr-defined]
                if checked_out and not await self.answers():
                    self.cut()
        finally:
            await self._close_probe()

    async def answers(self) -> bool:
        """Whether the database answers `SELECT 1` within `timeout_seconds`, on the watch's connection or,
        if that one was dropped meanwhile (a restart, an idle timeout), on a new one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_seconds
        # Past the deadline the probe's socket is shut down, not its query cancelled: psycopg meets a
        # cancelled query by cancelling it on the server and waiting for that, up to 10 s more on a hung one.
        # Connecting is cancelled at once.
        timer = loop.call_at(deadline, self._cut_probe)
        try:
            if self._probe is not None:
                with suppress(psycopg.OperationalError):
                    await self._probe.execute("SELECT 1")
                    return True
                await self._close_probe()
            async with asyncio.timeout_at(deadline):
                self._probe = await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, **self._connect_arguments
                )
            await self._probe.execute("SELECT 1")
            return True
        except (TimeoutError, psycopg.Error, OSError) as error:
            log.warning(
                "database did not answer: cutting its connections",
                database=self.name,
                error=str(error) or type(error).__name__,
                timeout_seconds=self.timeout_seconds,
            )
            await self._close_probe()
            return False
        finally:
            timer.cancel()

    def cut(self) -> None:
        """Shuts down the socket under every connection of the pool."""
        for connection in list(self._connections):
            shut_down(connection)

    def _cut_probe(self) -> None:
        if self._probe is not None:
            shut_down(self._probe)

    async def _close_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            with suppress(psycopg.Error, OSError):
                await probe.close()


def shut_down(connection: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Shuts down the socket under `connection`. The file descriptor stays open, and the driver's own:
    whoever waits on it wakes up to a closed connection, and closes it as usual."""
    if connection.closed:
        return
    # Either may find it closed meanwhile by its own thread.
    with suppress(psycopg.Error, OSError), socket.socket(fileno=os.dup(connection.fileno())) as duplicate:
        duplicate.shutdown(socket.SHUT_RDWR)
