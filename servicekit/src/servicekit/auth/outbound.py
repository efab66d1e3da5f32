"""Calls to other services with an app-only Entra ID token (client credentials), as an `httpx.Auth`.

    client = httpx.Client(auth=AppTokenAuth(settings, "api://other-service/.default"))

msal's client is built on first use, because building it asks Entra for the tenant's metadata;
msal then caches the token and fetches a new one only when it nears expiry.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Generator
from typing import Any

import anyio
import httpx
import msal

from servicekit.settings import ServiceSettings

__all__ = ["AppTokenAuth", "AppTokenError"]


class AppTokenError(Exception):
    """Entra ID would not issue an app token; the message carries Entra's reason, never the secret."""


class AppTokenAuth(httpx.Auth):
    """An `httpx.Auth` adding an app token for `scope` to each request, from Entra ID's client credentials
    flow with `AUTH_CLIENT_ID` and `AUTH_CLIENT_SECRET`."""

    def __init__(self, settings: ServiceSettings, scope: str, *, http_client: Any = None) -> None:
        if not (settings.auth_tenant_id and settings.auth_client_id and settings.auth_client_secret):
            raise AppTokenError("outbound calls need AUTH_TENANT_ID, AUTH_CLIENT_ID and AUTH_CLIENT_SECRET")
        self._settings = settings
        self._scopes = [scope]
        self._http_client = http_client  # msal's documented hook; tests point it at a loopback Entra
        self._msal: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # msal does blocking I/O when its cache misses: keep it off the event loop.
        request.headers["Authorization"] = f"Bearer {await anyio.to_thread.run_sync(self.access_token)}"
        yield request

    def access_token(self) -> str:
        result = self._client().acquire_token_for_client(scopes=self._scopes)
        if "access_token" not in result:
            raise AppTokenError(f"no app token for {self._scopes[0]}: {result.get('error_description', result)}")
        token: str = result["access_token"]
        return token

    def _client(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._msal is None:
                secret = self._settings.auth_client_secret
                assert secret is not None
                self._msal = msal.ConfidentialClientApplication(
                    self._settings.auth_client_id,
                    client_credential=secret.get_secret_value(),
                    authority=f"https://login.microsoftonline.com/{self._settings.auth_tenant_id}",
                    # One tenant in the public cloud: no need to ask Entra which clouds exist.
                    instance_discovery=False,
                    http_client=self._http_client,
                )
            return self._msal
