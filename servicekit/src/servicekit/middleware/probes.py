"""Kubernetes probes, answered on the event loop so they never wait behind Flask's busy worker threads.

`/healthz` (liveness) touches nothing: it proves the process serves. As Kubernetes asks for it, it is
answered first of all (`LivenessMiddleware`), since the rest of the stack would only add time to it.
`/readyz` (readiness) fails only when this pod cannot serve whatever its dependencies do: once shutdown
begins, and while a database it reads shows a schema that is not at the pod's migration head. A database
that cannot be reached or does not answer within the timeout leaves the pod ready and is reported in the
body (`"database": "unavailable"`, `"read_replica": ...`) and the log: every pod sees the same outage, and
taking them all out would only swap the kit's 503 with Retry-After, for the requests that need the
database, for the ingress's bare 502/503 for every request, those that need no database included.
Anyone may call the probes, so their reasons name no revision, URL or library: the log line does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import orjson
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.database import Database, Readiness
from servicekit.lifecycle import Lifecycle
from servicekit.middleware.request_id import new_request_id
from servicekit.middleware.security_headers import security_headers
from servicekit.problems import PROBLEM_JSON, problem_body

__all__ = ["DRAINING_REASON"]

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
# What /readyz answers from SIGTERM on, while the service drains: load balancers and rehearsals read it.
DRAINING_REASON = "the service is shutting down"
"""Why `/readyz` answers 503 while the service drains after SIGTERM."""
PROBE_PATHS = frozenset({LIVENESS_PATH, READINESS_PATH})
_LIVENESS_RAW = LIVENESS_PATH.encode()
_OK = b'{"status":"ok"}'
# What may make the rest of the stack answer a liveness probe otherwise: a refusal (request limits), CORS.
_NOT_PLAIN = frozenset({b"content-length", b"transfer-encoding", b"origin"})

log = structlog.get_logger(__name__)


def answered_before_routing() -> NoReturn:
    """The view of the probe operations a spec declares (so that clients and Swagger UI show them): the
    probes are answered here, before Connexion routes a request, so it runs only if that ever changes."""
    raise RuntimeError("a probe reached its view: LivenessMiddleware and ProbesMiddleware must answer it first")


PROBE_OPERATIONS: dict[str, Callable[[], NoReturn]] = {
    "get_healthz": answered_before_routing,
    "get_readyz": answered_before_routing,
}


class LivenessMiddleware:
    """A plain `/healthz` (GET or HEAD, no query string, no body, no Origin), answered with the headers the
    rest of the stack would give it: the security headers and the request id. Anything else goes on
    through the stack, where `ProbesMiddleware` answers the probes."""

    def __init__(self, app: ASGIApp, *, hsts_max_age_seconds: int) -> None:
        self.app = app
        self.headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_OK)).encode()),
            (b"vary", b"Origin"),  # as CORS marks its answers to requests without an Origin
            *security_headers(swagger_ui=False, hsts_max_age_seconds=hsts_max_age_seconds),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _plain_liveness_probe(scope):
            await self.app(scope, receive, send)
            return
        request_id = new_request_id().encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [*self.headers, (b"x-request-id", request_id)]}
        )
        await send({"type": "http.response.body", "body": _OK})


def _plain_liveness_probe(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["path"] != LIVENESS_PATH or scope["method"] not in ("GET", "HEAD"):
        return False
    if scope["query_string"] or scope.get("raw_path", _LIVENESS_RAW) != _LIVENESS_RAW:
        return False
    return not any(name in _NOT_PLAIN for name, _value in scope["headers"])


class ProbesMiddleware:
    def __init__(self, app: ASGIApp, *, database: Database | None, lifecycle: Lifecycle) -> None:
        self.app = app
        self.database = database
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in PROBE_PATHS or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        readiness = await self.readiness() if scope["path"] == READINESS_PATH else Readiness(None)
        if readiness.reason is None:
            body = orjson.dumps({"status": "ok", **readiness.details}) if readiness.details else _OK
            await _respond(send, 200, "application/json", body)
        else:
            await _respond(send, 503, PROBLEM_JSON, problem_body(503, readiness.reason))

    async def readiness(self) -> Readiness:
        if self.lifecycle.draining:
            return Readiness(DRAINING_REASON)
        if self.database is None:
            return Readiness(None)
        try:
            # On the event loop with connections of its own, each bounded by the database's timeout: never
            # behind busy views or their pool, and leaving no thread or connection behind.
            readiness = await self.database.check_readiness()
        except Exception as exc:  # a bug, yet an answer must come
            log.error("readiness check failed", exc_info=exc)
            return Readiness("the readiness check failed")
        if readiness.reason is None:
            return readiness
        # Probes answer anyone: revisions and commands go to the log, not to the caller.
        log.warning("not ready", reason=readiness.reason)
        return Readiness("the database schema is not at the version this service needs")


async def _respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
