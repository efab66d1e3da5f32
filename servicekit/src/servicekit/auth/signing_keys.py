"""An Entra ID tenant's token signing keys (its JWKS), cached so that no request waits on Entra.

PyJWT's own PyJWKClient fetches with blocking urllib, which would stall the event loop the security
hooks run on, and it forgets its keys when a refresh fails; this cache fetches with httpx's async
client and keeps serving the keys it has while Entra is unreachable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import structlog
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKSetError

log = structlog.get_logger(__name__)


class SigningKeysUnavailable(Exception):
    """No keys have ever been loaded, so no token can be checked."""


class UnknownSigningKey(Exception):
    """The token names a key the tenant does not publish."""


class SigningKeys:
    def __init__(
        self,
        jwks_url: str,
        *,
        ttl_seconds: float = 3600,
        refetch_cooldown_seconds: float = 5,
        timeout_seconds: float = 5,
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
        self._fetching: asyncio.Future[None] | None = None

    async def key(self, kid: str | None) -> PyJWK:
        if self._fetching is not None and not self._fetching.done():
            await asyncio.shield(self._fetching)
        elif (self._expired() or kid not in self._keys) and self._may_fetch():
            await self.refresh()
        if kid in self._keys:
            return self._keys[kid]
        if self._loaded_at is None:
            raise SigningKeysUnavailable(f"the signing keys could not be loaded from {self.jwks_url}")
        raise UnknownSigningKey(f"the token's signing key {kid!r} is not one the tenant publishes")

    def published(self, kid: str | None) -> PyJWK | None:
        """The key for `kid` as last fetched, without fetching: None when unknown or when the keys are due a
        refresh (`key()` would fetch them again)."""
        return None if self._expired() else self._keys.get(kid or "")

    async def refresh(self) -> None:
        """Fetch the keys now (joining a fetch already under way); on failure keep the old ones."""
        if self._fetching is None or self._fetching.done():
            self._attempted_at = self.clock()
            self._fetching = asyncio.ensure_future(self._fetch())
        await asyncio.shield(self._fetching)

    def _expired(self) -> bool:
        return self._loaded_at is None or self.clock() - self._loaded_at > self.ttl_seconds

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self.clock() - self._attempted_at >= self.refetch_cooldown_seconds

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
            key_set = PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, PyJWKSetError) as exc:
            log.warning("signing keys not refreshed; using the cached ones", url=self.jwks_url, error=str(exc))
            return
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._loaded_at = self.clock()
        log.info("signing keys loaded", url=self.jwks_url, kids=sorted(self._keys))
