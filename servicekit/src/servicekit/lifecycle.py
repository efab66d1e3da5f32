"""The service's life: started, then draining once shutdown begins, so readiness can fail first."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any

import elasticapm
import structlog

from servicekit.audit_store import AuditStore
from servicekit.auth.tokens import TokenValidator
from servicekit.database import Database
from servicekit.parts import STATE_KEY, Parts

log = structlog.get_logger(__name__)


class Lifecycle:
    def __init__(self) -> None:
        # A threading.Event because the signal handler that sets it runs outside the event loop.
        self._draining = threading.Event()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def begin_shutdown(self) -> None:
        if not self.draining:
            log.info("shutdown begun: readiness now fails")
        self._draining.set()

    def start(self) -> None:
        self._draining.clear()


Lifespan = Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]


def lifespan_of(parts: Parts) -> Lifespan:
    """Starts the parts that need it, hands them to every request, and closes them at shutdown."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        lifecycle = parts.get(Lifecycle)
        lifecycle.start()
        tokens = parts.get(TokenValidator)
        if tokens.keys:
            # Loaded now, the first request does not wait for Entra; if Entra is down, requests retry.
            await tokens.keys.refresh()
        database, apm, audit_store = parts.find(Database), parts.find(elasticapm.Client), parts.find(AuditStore)
        if audit_store:
            audit_store.start()
        watching = asyncio.create_task(database.watch()) if database else None
        log.info("service started", database=database.safe_url if database else None)
        try:
            yield {STATE_KEY: parts}
        finally:
            lifecycle.begin_shutdown()
            if tokens.keys:
                tokens.keys.stop()
            if audit_store:
                await asyncio.to_thread(audit_store.close)  # before the database goes: it writes what is queued
            if watching:  # kept until now: the audit store's last writes may meet a hung database too
                watching.cancel()
                with suppress(asyncio.CancelledError):
                    await watching
            if database:
                database.dispose()
            log.info("service stopped")
            if apm:
                apm.close()  # sends what it still holds

    return lifespan
