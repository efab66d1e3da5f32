"""The Directmail service: `create_app()` assembles it from its parts and does nothing else."""

from __future__ import annotations

import connexion

from app.apm import apm_client
from app.auth.tokens import TokenValidator
from app.data_access import jsonifier, use_orjson
from app.database import Database
from app.errors import install_error_handlers
from app.exports import Exports
from app.lifecycle import Lifecycle, lifespan_for
from app.logs import configure_logging
from app.middleware.stack import connexion_middlewares, install_middleware
from app.swagger_ui import spec_arguments, swagger_ui_options
from app.validation import validator_map
from config import PROJECT_ROOT, Settings, load_settings

SPECIFICATION = "api-spec.yml"


def create_app(settings: Settings | None = None, lifecycle: Lifecycle | None = None) -> connexion.FlaskApp:
    """The ASGI application to serve (never its `.app`: that would skip validation and security)."""
    settings = settings or load_settings()
    lifecycle = lifecycle or Lifecycle()
    configure_logging(settings)
    database = Database(settings.database_url, timeout_seconds=settings.database_timeout_seconds)
    token_validator = TokenValidator.from_settings(settings)
    apm = apm_client(settings)

    app = connexion.FlaskApp(
        __name__,
        specification_dir=PROJECT_ROOT,
        lifespan=lifespan_for(lifecycle, database, token_validator, apm),
        jsonifier=jsonifier(),
        validator_map=validator_map(),
        strict_validation=True,
        swagger_ui_options=swagger_ui_options(settings),
        middlewares=connexion_middlewares(),
    )
    use_orjson(app.app)
    app.app.extensions["database"] = database
    app.app.extensions["exports"] = Exports(database, settings.export_concurrency)
    install_middleware(app, settings, database=database, lifecycle=lifecycle, traced=apm is not None)
    install_error_handlers(app)
    app.add_api(SPECIFICATION, arguments=spec_arguments(settings))
    return app
