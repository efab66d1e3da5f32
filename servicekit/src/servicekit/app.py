"""A service's ASGI app: Connexion 3's FlaskApp serving the service's spec, with the kit's plumbing around it.

def create_app(settings: Settings | None = None) -> ServiceApp:
    settings = settings or load_settings(Settings)
    database = Database.from_settings(settings, MIGRATIONS)
    downloads = Downloads.from_settings(database, settings)  # Settings mixes in DownloadSettings
    return service_app(__name__, settings, SPEC, database=database, parts=[downloads], problems={OrderError: 400})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import connexion
from a2wsgi import WSGIMiddleware

from servicekit.apm import apm_client
from servicekit.auth.permissions import declared_permissions, declared_scopes
from servicekit.auth.security import SECURITY_HANDLERS
from servicekit.auth.tokens import TokenValidator
from servicekit.database import Database
from servicekit.downloads import Downloads
from servicekit.internals.connexion import serve_flask_through
from servicekit.json_bodies import jsonifier, use_orjson
from servicekit.lifecycle import Lifecycle, lifespan_of
from servicekit.logs import configure_logging
from servicekit.middleware.stack import connexion_middlewares, install_middleware
from servicekit.parts import Parts
from servicekit.problems import install_problem_handlers
from servicekit.settings import ServiceSettings
from servicekit.spec import ViewResolver, check_views, configured_spec, declared_methods
from servicekit.swagger_ui import swagger_ui_options
from servicekit.validation import SingleValueURIParser, validator_map

__all__ = ["ServiceApp", "service_app"]


def run_views_on(app: connexion.FlaskApp, worker_threads: int) -> None:
    """Flask's views on a pool of `worker_threads`: Connexion's bridge to Flask has a2wsgi's default of 10
    and no setting for it (spec-first/connexion#1979)."""
    serve_flask_through(app, WSGIMiddleware(app.app.wsgi_app, workers=worker_threads))


class ServiceApp(connexion.FlaskApp):  # type: ignore[misc]
    """Connexion's FlaskApp holding the service's parts. Serve it whole, never its `.app`: that is the
    Flask app alone, without validation, security or any of the middleware."""

    def __init__(self, import_name: str, *, parts: Parts, **options: Any) -> None:
        super().__init__(import_name, lifespan=lifespan_of(parts), **options)
        self.parts = parts


def service_app(
    import_name: str,
    settings: ServiceSettings,
    spec: Path,
    *,
    database: Database | None = None,
    parts: Iterable[object] = (),
    problems: Mapping[type[Exception], int] | None = None,
    constraints: Mapping[str, int] | None = None,
    views: str | None = None,
    swagger_ui: Path | None = None,
) -> ServiceApp:
    """The service's app: `spec` served with the kit's logging, middleware, security and error model.

    `parts` are what the service's views reach with `current()`, besides the database; `problems` maps
    each of the service's own errors to the HTTP status it answers with; `constraints` a database
    constraint's name or a SQLSTATE to the status its violation answers with, over the kit's
    `CONSTRAINT_STATUSES` (unique and exclusion violations 409); `views` is the module whose
    functions the spec's operation ids name (`<import_name>.api` unless given); `swagger_ui` the folder of
    the service's own Swagger UI package (Connexion's stock page without one)."""
    configure_logging(settings)
    lifecycle = Lifecycle()
    apm = apm_client(settings)
    service_parts = Parts(lifecycle, TokenValidator.from_settings(settings), *filter(None, (database, apm)), *parts)
    contract = configured_spec(spec, settings)
    resolver = ViewResolver(views or f"{import_name}.api")
    check_views(contract, resolver)
    app = ServiceApp(
        import_name,
        parts=service_parts,
        jsonifier=jsonifier(),
        validator_map=validator_map(),
        uri_parser_class=SingleValueURIParser,
        strict_validation=True,
        security_map=SECURITY_HANDLERS,
        swagger_ui_options=swagger_ui_options(
            settings, declared_scopes(contract), title=contract["info"]["title"], package=swagger_ui
        ),
        middlewares=connexion_middlewares(),
    )
    use_orjson(app.app)
    run_views_on(app, settings.worker_threads)
    install_middleware(
        app,
        settings,
        database=database,
        downloads=service_parts.find(Downloads),
        lifecycle=lifecycle,
        methods=declared_methods(contract),
        permissions=declared_permissions(contract),
        traced=apm is not None,
        stock_swagger_ui=swagger_ui is None,
    )
    install_problem_handlers(app, problems or {}, constraints)
    app.add_api(contract, resolver=resolver)
    return app
