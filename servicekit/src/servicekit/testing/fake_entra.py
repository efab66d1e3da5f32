"""A real HTTP server on loopback standing in for Microsoft Entra ID, which cannot run here.

It publishes a tenant's signing keys (JWKS), mints tokens signed with them, serves the metadata and
token endpoints msal uses for client credentials, and can rotate its keys, slow down, go down or hang on
demand.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from servicekit.testing.loopback import LoopbackHandler, LoopbackServer

TENANT = "72f988bf-0000-4000-8000-0000000000aa"
API_CLIENT_ID = "0b2c3d4e-0000-4000-8000-0000000000bb"
"""The test API's client id: an audience test settings accept."""
API_URI = "api://servicekit-test"
"""The test API's App ID URI: an audience test settings accept, and its scopes' prefix."""
SERVICE_CLIENT_ID = "5e6f7a8b-0000-4000-8000-0000000000cc"
"""The service's own registration, to which the fake issues app tokens (`auth_client_id` in test settings)."""
SERVICE_SECRET = "s3rvice-secret-for-tests"
"""That registration's client secret (`auth_client_secret`)."""


class SigningKey:
    """An RSA key pair and its key id, as Entra publishes one among its signing keys."""

    def __init__(self) -> None:
        self.kid = uuid.uuid4().hex
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        # Like Entra's: no "alg" member, so the validator must not need one.
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return jwk | {"kid": self.kid, "use": "sig"}


class FakeEntra:
    """Microsoft Entra ID on loopback: a tenant's signing keys, the tokens they sign, and the token endpoint;
    `trusted_by()` gives the settings that trust it."""

    def __init__(self, tenant: str = TENANT, app_roles: tuple[str, ...] = ()) -> None:
        self.tenant = tenant
        self.app_roles = app_roles  # granted to the app tokens it issues for client credentials
        self.keys = [SigningKey()]
        self.down = False
        self.delay_seconds = 0.0
        self._answering = threading.Event()
        self._answering.set()
        self._counting = threading.Lock()
        self.jwks_requests = 0  # counted as they arrive, answered or not
        self.token_requests = 0
        self.server = LoopbackServer(_handler_for(self))
        self.port = self.server.port

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.tenant}/discovery/v2.0/keys"

    @property
    def issuer(self) -> str:
        return f"https://login.microsoftonline.com/{self.tenant}/v2.0"

    def start(self) -> FakeEntra:
        self.server.start()
        return self

    def stop(self) -> None:
        self.recover()  # the hung requests' threads end
        self.server.stop()

    def hang(self) -> None:
        """Accept connections and read requests, but answer none until `recover()`, as a stuck Entra does."""
        self._answering.clear()

    def recover(self) -> None:
        """Answer again, the hung requests first."""
        self._answering.set()

    def rotate_keys(self) -> SigningKey:
        """Publish a new key in place of the old ones, as Entra does on a key rollover."""
        self.keys = [SigningKey()]
        return self.keys[0]

    def forged_key(self) -> SigningKey:
        """A key the tenant never published, claiming the kid of one it did."""
        forged = SigningKey()
        forged.kid = self.keys[0].kid
        return forged

    def trusted_by(self) -> dict[str, object]:
        """Settings overrides that make a service trust this tenant's tokens."""
        return {
            "auth_tenant_id": self.tenant,
            "auth_audience": f"{API_URI},{API_CLIENT_ID}",
            "auth_jwks_url": self.jwks_url,
        }

    def make_token(self, *, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """A v2 access token for the test API; `claims` override or (with None) remove the defaults, and may
        be of any type JSON has, well formed or not."""
        key = key or self.keys[0]
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": API_CLIENT_ID,
            "tid": self.tenant,
            "oid": "00000000-0000-4000-8000-000000000001",
            "sub": "staff-member",
            "azp": "swagger-ui-client",
            "name": "Staff Member",
            "ver": "2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        } | claims
        payload = {name: value for name, value in payload.items() if value is not None}
        # Signed as JSON by PyJWS, not jwt.encode, which refuses some malformed claims a test needs to send.
        body = json.dumps(payload).encode()
        return jwt.api_jws.encode(body, key.private, algorithm="RS256", headers={"kid": key.kid} | (headers or {}))

    def _answer(self, method: str, path: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        is_jwks = method == "GET" and path == f"/{self.tenant}/discovery/v2.0/keys"
        if is_jwks:
            with self._counting:
                self.jwks_requests += 1
        self._answering.wait()
        time.sleep(self.delay_seconds)
        if self.down:
            return 503, {"error": "temporarily_unavailable"}
        if is_jwks:
            return 200, {"keys": [key.jwk() for key in self.keys]}
        if method == "GET" and path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            base = f"https://login.microsoftonline.com/{self.tenant}"
            return 200, {
                "issuer": self.issuer,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
            }
        if method == "POST" and path == f"/{self.tenant}/oauth2/v2.0/token":
            return self._client_credentials(form)
        return 404, {"error": "not_found"}

    def _client_credentials(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        if form.get("client_secret") != [SERVICE_SECRET] or form.get("client_id") != [SERVICE_CLIENT_ID]:
            return 401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."}
        token = self.make_token(aud=form["scope"][0].removesuffix("/.default"), roles=list(self.app_roles))
        return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token}


def _handler_for(entra: FakeEntra) -> type[LoopbackHandler]:
    class Handler(LoopbackHandler):
        def do_GET(self) -> None:
            self._answer("GET", {})

        def do_POST(self) -> None:
            self._answer("POST", parse_qs(self.request_body().decode()))

        def _answer(self, method: str, form: dict[str, list[str]]) -> None:
            status, body = entra._answer(method, urlsplit(self.path).path, form)
            self.reply(status, json.dumps(body).encode())

    return Handler


class FakeEntraTransport(httpx.HTTPTransport):
    """Sends requests for https://login.microsoftonline.com to the fake instead (msal insists on https)."""

    def __init__(self, entra: FakeEntra) -> None:
        super().__init__()
        self.port = entra.port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return super().handle_request(request)
