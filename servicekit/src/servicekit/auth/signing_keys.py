"""An Entra ID tenant's token signing keys (its JWKS), cached so that a request waits on Entra only for a key
it has never seen.

- A key id the cache holds is answered at once, however old the cache: once it is older than its time to
  live, the first request to use it starts a refresh in the background and goes on with the cached key.
- A key id the cache does not hold (a key rollover, or a forgery) waits for a fetch, at most one fetch per
  cooldown and shared by every request waiting: never longer than `timeout_seconds` (FETCH_TIMEOUT_SECONDS),
  however Entra misbehaves. If the tenant does not publish it, the token is refused (`UnknownSigningKey`);
  if Entra could not be asked, the token cannot be checked for now (`SigningKeysUnavailable`).
- A failed fetch keeps the keys the cache has, and its warning names the error.

PyJWT's PyJWKClient is not used: it fetches with blocking urllib on the caller's thread, which here is the
event loop the security hooks run on, bounds each socket operation rather than the whole fetch, and forgets
its keys when a refresh fails, so it can neither serve stale keys nor bound a wait. PyJWT still parses the
key set (`PyJWKSet`).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable

import httpx
import structlog
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKSetError

# Entra serves its key set, a few kB, from a CDN in well under a second: a fetch that takes longer than this
# is abandoned, and the requests waiting on it answered.
FETCH_TIMEOUT_SECONDS = 3.0

log = structlog.get_logger(__name__)


class SigningKeysUnavailable(Exception):
    """Entra could not be asked for a key the cache does not hold, so the token cannot be checked now."""


class UnknownSigningKey(Exception):
    """The token names a key the tenant does not publish."""


class SigningKeys:
    def __init__(
        self,
        jwks_url: str,
        *,
        ttl_seconds: float = 3600,
        refetch_cooldown_seconds: float = 5,
        timeout_seconds: float = FETCH_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jwks_url = jwks_url
        self.ttl_seconds = ttl_seconds
        # Unknown kids trigger a refetch (keys rotate), but a flood of forged kids must not
        # become a flood of requests to Entra: at most one fetch per cooldown.
        self.refetch_cooldown_seconds = refetch_cooldown_seconds
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._last_fetch_failed = False
        self._fetching: asyncio.Task[None] | None = None

    async def key(self, kid: str | None) -> PyJWK:
        """The tenant's key `kid`: at once when cached, else after a fetch of at most `timeout_seconds`."""
        cached = self._keys.get(kid or "")
        if cached is not None:
            if self._expired() and self._may_fetch():
                self._start_fetch()
            return cached
        if self._fetch_under_way() or self._may_fetch():
            await self.refresh()
        if kid in self._keys:
            return self._keys[kid]
        if self._loaded_at is None or self._last_fetch_failed:
            raise SigningKeysUnavailable(f"the signing keys could not be fetched from {self.jwks_url}")
        raise UnknownSigningKey(f"the token's signing key {kid!r} is not one the tenant publishes")

    def published(self, kid: str | None) -> PyJWK | None:
        """The key for `kid` as last fetched, without fetching: None when unknown or when the keys are due a
        refresh (`key()` would start one)."""
        return None if self._expired() else self._keys.get(kid or "")

    async def refresh(self) -> None:
        """Fetch the keys now (joining a fetch already under way); on failure keep the old ones."""
        if not self._fetch_under_way():
            self._start_fetch()
        assert self._fetching is not None
        # Shielded: a waiting request that is cancelled (its client gone) does not cancel the others' fetch.
        await asyncio.shield(self._fetching)

    def stop(self) -> None:
        """Abandon a fetch under way (at shutdown)."""
        if self._fetch_under_way():
            assert self._fetching is not None
            self._fetching.cancel()

    def _fetch_under_way(self) -> bool:
        return self._fetching is not None and not self._fetching.done()

    def _start_fetch(self) -> None:
        self._attempted_at = self.clock()
        # In a context of its own: its log lines belong to no request, not to the one that happened to start it.
        self._fetching = asyncio.create_task(self._fetch(), context=contextvars.Context())

    def _expired(self) -> bool:
        return self._loaded_at is None or self.clock() - self._loaded_at > self.ttl_seconds

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self.clock() - self._attempted_at >= self.refetch_cooldown_seconds

    async def _fetch(self) -> None:
        try:
            # One deadline for the whole fetch as well as httpx's own: those bound each connect and read, so a
            # server that trickles its answer could hold a fetch for ever.
            timeout = self.timeout_seconds
            async with asyncio.timeout(timeout), httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
            key_set = PyJWKSet.from_dict(response.json())
        except (TimeoutError, httpx.HTTPError, ValueError, PyJWKSetError) as exc:
            self._last_fetch_failed = True
            log.warning(
                "signing keys not fetched; the cached ones still serve",
                url=self.jwks_url,
                cached_kids=len(self._keys),
                **{"error.type": type(exc).__name__, "error.message": self._described(exc)},
            )
            return
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._loaded_at = self.clock()
        self._last_fetch_failed = False
        log.info("signing keys loaded", url=self.jwks_url, kids=sorted(self._keys))

    def _described(self, exc: Exception) -> str:
        """What went wrong, in words: many of httpx's errors, and every timeout, have no message of their own."""
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            return f"no answer within {self.timeout_seconds:g} s"
        summary = (type(exc).__doc__ or "").strip().split("\n", 1)[0]
        return str(exc) or summary or "no message"
