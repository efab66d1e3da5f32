"""The local developer's sign-in from the browser: `POST /ui/local-sign-in` answers the token `run.py token`
prints, so that Swagger UI signs in with a button, no terminal and no copy-paste.

It exists only with ENVIRONMENT=local. Elsewhere the path answers 404 to every method, as a path no
operation serves (Swagger UI's static files would answer a POST with 405, as if something were there), and
`mint_dev_token` refuses outside local besides. Another site the developer visits can make the browser
POST here, but cannot read the answer: no CORS header allows it.
"""

from __future__ import annotations

import anyio
import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.auth.dev_login import mint_dev_token
from servicekit.middleware.routed_only import NOT_ROUTED
from servicekit.problems import PROBLEM_JSON, problem_body
from servicekit.settings import ServiceSettings
from servicekit.swagger_ui import SWAGGER_UI_PATH

LOCAL_SIGN_IN_PATH = f"{SWAGGER_UI_PATH}/local-sign-in"
# As long as `run.py token`'s: a working day's sign-in is an hour, renewed with the same button.
LIFETIME_SECONDS = 3600
DEVELOPER = "Local Developer"


class LocalSignInMiddleware:
    """Answers `POST /ui/local-sign-in` with a dev login token granting `permissions` (all the spec's) when the
    environment is local, and 404 otherwise."""

    def __init__(self, app: ASGIApp, *, settings: ServiceSettings, permissions: list[str]) -> None:
        self.app = app
        self.settings = settings
        self.permissions = permissions
        self.enabled = settings.environment == "local"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != LOCAL_SIGN_IN_PATH:
            await self.app(scope, receive, send)
            return
        if not self.enabled:
            await _respond(send, 404, PROBLEM_JSON, problem_body(404, NOT_ROUTED), [])
            return
        if scope["method"] != "POST":
            body = problem_body(405, f"{LOCAL_SIGN_IN_PATH} signs in with POST.")
            await _respond(send, 405, PROBLEM_JSON, body, [(b"allow", b"POST")])
            return
        # Signing reads the key file and does RSA work: off the event loop, like any blocking call.
        token = await anyio.to_thread.run_sync(self._token)
        body = orjson.dumps(
            {"access_token": token, "token_type": "Bearer", "expires_in": LIFETIME_SECONDS, "name": DEVELOPER}
        )
        await _respond(send, 200, "application/json", body, [(b"cache-control", b"no-store")])

    def _token(self) -> str:
        return mint_dev_token(self.settings, roles=self.permissions, expires_in=LIFETIME_SECONDS, name=DEVELOPER)


async def _respond(send: Send, status: int, content_type: str, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
