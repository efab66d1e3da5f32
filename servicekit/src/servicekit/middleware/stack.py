"""The ASGI middleware stack, in one place, outermost first.

Connexion inserts each middleware *before* the one named by its position, so within a position
the first added is the outermost. The order, and why:

0. liveness        a plain /healthz answered before anything else, with the headers the rest would add;
1. request id      first, so every later line and response carries it;
   APM tracing     (when configured) a transaction around everything below, so the access line carries
                   its trace id and a stream's transaction lasts to its last byte;
2. access log      sees the final status and the bytes on the wire, after compression;
3. security headers,
4. relative redirects and
5. CORS            outside Connexion's ExceptionMiddleware, so error responses carry them too and
                   preflights are answered before routing (spec-first/connexion#1820);
6. compression     outside the error handlers too, and outside response validation, which would
                   otherwise try to validate compressed bytes;
7. disconnects     tell streaming views in Flask's threads that their client has gone;
-- Connexion's ExceptionMiddleware: everything below it that raises becomes a problem response --
8. request limits  refuse oversized or undecodable requests before anything parses them, probes included;
9. probes          answered on the event loop, never queued behind Flask's threads;
   local sign-in   the dev login's token for Swagger UI's sign-in button (ENVIRONMENT=local; a 404 elsewhere);
-- Connexion's Swagger UI, then its routing --
   operation       recorded for the access log, which never sees the scope routing writes to;
   APM names       a transaction by the route that matched, before security may refuse the request;
   routed only     what no operation matched ends as a 404 here, before Flask could dispatch it unsecured;
-- Connexion's security, its validation, its response validation --
   download slots  a download's slot admitted here, once the caller is known and the request valid (a 401
                   or a 400 whatever the load), and refused with 503 without waiting for a thread;
-- Connexion's context, then Flask in a worker thread --

Middleware above the ExceptionMiddleware must never raise: only the last-resort handler of
`connexion_middlewares()` would see it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import connexion
from connexion.middleware import MiddlewarePosition
from elasticapm.contrib.asgi import ASGITracingMiddleware

from servicekit.database import Database
from servicekit.downloads import Downloads
from servicekit.internals.connexion import ConnexionMiddleware, ServerErrorMiddleware
from servicekit.lifecycle import Lifecycle
from servicekit.middleware.access_log import AccessLogMiddleware
from servicekit.middleware.apm_names import TransactionNameMiddleware
from servicekit.middleware.compression import CompressionMiddleware
from servicekit.middleware.cors import ProblemCORSMiddleware
from servicekit.middleware.disconnect import DisconnectMiddleware
from servicekit.middleware.download_slots import DownloadSlotsMiddleware
from servicekit.middleware.local_sign_in import LocalSignInMiddleware
from servicekit.middleware.probes import PROBE_PATHS, LivenessMiddleware, ProbesMiddleware
from servicekit.middleware.published_spec import PublishedSpecMiddleware
from servicekit.middleware.redirects import RelativeRedirectsMiddleware
from servicekit.middleware.request_id import RequestIdMiddleware
from servicekit.middleware.request_limits import RequestLimitsMiddleware
from servicekit.middleware.routed_only import RoutedOnlyMiddleware
from servicekit.middleware.routes import RecordOperationMiddleware
from servicekit.middleware.security_headers import SecurityHeadersMiddleware
from servicekit.problems import handle_last_resort
from servicekit.settings import ServiceSettings
from servicekit.swagger_ui import SWAGGER_UI_PATH


def connexion_middlewares() -> list[Any]:
    """Connexion's own stack, but with a last-resort handler that answers in our error model.

    Without one, Connexion 3.3's ServerErrorMiddleware makes a coroutine it never awaits and sends a
    bare 500 (spec-first/connexion#2059)."""
    last_resort = partial(ServerErrorMiddleware, handler=handle_last_resort)
    return [last_resort, *ConnexionMiddleware.default_middlewares[1:]]


def install_middleware(
    app: connexion.FlaskApp,
    settings: ServiceSettings,
    *,
    database: Database | None,
    downloads: Downloads | None,
    lifecycle: Lifecycle,
    methods: list[str],
    permissions: list[str],
    traced: bool,
    stock_swagger_ui: bool,
) -> None:
    """`methods`: what the service's operations answer to, for CORS; `permissions`: what the spec declares,
    all granted by the local sign-in; `stock_swagger_ui`: the service serves Connexion's stock Swagger UI
    page rather than its own."""
    outer = MiddlewarePosition.BEFORE_EXCEPTION
    app.add_middleware(RecordOperationMiddleware, position=MiddlewarePosition.BEFORE_SECURITY)
    app.add_middleware(LivenessMiddleware, position=outer, hsts_max_age_seconds=settings.hsts_max_age_seconds)
    app.add_middleware(RequestIdMiddleware, position=outer)
    if traced:
        app.add_middleware(ASGITracingMiddleware, position=outer)
        app.add_middleware(TransactionNameMiddleware, position=MiddlewarePosition.BEFORE_SECURITY)
    app.add_middleware(AccessLogMiddleware, position=outer, quiet_paths=PROBE_PATHS)
    app.add_middleware(
        SecurityHeadersMiddleware,
        position=outer,
        swagger_ui_path=SWAGGER_UI_PATH,
        hsts_max_age_seconds=settings.hsts_max_age_seconds,
        stock_swagger_ui=stock_swagger_ui,
    )
    app.add_middleware(RelativeRedirectsMiddleware, position=outer)
    app.add_middleware(ProblemCORSMiddleware, position=outer, origins=settings.cors_origins, methods=methods)
    app.add_middleware(CompressionMiddleware, position=outer, levels=settings.compression_levels)
    app.add_middleware(DisconnectMiddleware, position=outer)
    app.add_middleware(
        RequestLimitsMiddleware,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        max_url_bytes=settings.max_url_bytes,
        max_body_bytes=settings.max_body_bytes,
    )
    app.add_middleware(
        ProbesMiddleware, position=MiddlewarePosition.BEFORE_SWAGGER, database=database, lifecycle=lifecycle
    )
    app.add_middleware(
        LocalSignInMiddleware, position=MiddlewarePosition.BEFORE_SWAGGER, settings=settings, permissions=permissions
    )
    app.add_middleware(PublishedSpecMiddleware, position=MiddlewarePosition.BEFORE_SWAGGER)
    app.add_middleware(RoutedOnlyMiddleware, position=MiddlewarePosition.BEFORE_SECURITY)
    if downloads is not None:
        app.add_middleware(DownloadSlotsMiddleware, position=MiddlewarePosition.BEFORE_CONTEXT, downloads=downloads)
