"""The service's life: started, then draining once shutdown begins, so readiness can fail first."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import elasticapm
import structlog

from app.auth.tokens import TokenValidator
from app.database import Database

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

    def serve(self) -> None:
        self._draining.clear()


def lifespan_for(
    lifecycle: Lifecycle, database: Database, token_validator: TokenValidator, apm: elasticapm.Client | None
) -> Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]:
    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        lifecycle.serve()
        if token_validator.keys:
            # Loaded now, the first request does not wait for Entra; if Entra is down, requests retry.
            await token_validator.keys.refresh()
        log.info("service started", database=database.safe_url)
        try:
            # Request scopes carry this state: the spec's security hooks find the validator there.
            yield {"token_validator": token_validator}
        finally:
            lifecycle.begin_shutdown()
            database.dispose()
            log.info("service stopped")
            if apm is not None:
                apm.close()  # sends what it still holds

    return lifespan
