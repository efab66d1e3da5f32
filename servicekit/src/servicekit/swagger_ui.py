"""Swagger UI at /ui, with the Entra ID login (authorization code + PKCE) filled in from settings.

A service may serve its own Swagger UI package (a folder with an `index.j2` page and its assets, built from
swagger-ui-dist and the service's own plugins); without one, Connexion's stock page. The page gets the
service's title and environment, the spec's URL and, when a client is configured, the login's settings
(`initOAuth`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from connexion.options import SwaggerUIOptions

from servicekit.settings import ServiceSettings

SWAGGER_UI_PATH = "/ui"


class SwaggerUIMissing(Exception):
    """The service's Swagger UI package has not been built."""


def swagger_ui_options(
    settings: ServiceSettings, scopes: list[str], *, title: str, package: Path | None = None
) -> SwaggerUIOptions:
    """`scopes`: what Swagger UI asks Entra for on the user's behalf, by full name (the spec's OAuth 2 scopes);
    `package`: the folder of the service's own Swagger UI, which must hold its `index.j2`."""
    arguments: dict[str, Any] = {"service_title": title, "environment": settings.environment}
    if settings.swagger_ui_client_id:
        arguments["initOAuth"] = {
            "clientId": settings.swagger_ui_client_id,
            "usePkceWithAuthorizationCodeGrant": True,
            # Entra issues a token for our API only when the scope is named in full.
            "scopes": " ".join(["openid", "profile", "offline_access", *scopes]),
        }
    # The spec itself is served by PublishedSpecMiddleware, in front: Connexion's copy would never be reached.
    options = SwaggerUIOptions(
        serve_spec=False, swagger_ui_path=SWAGGER_UI_PATH, swagger_ui_template_arguments=arguments
    )
    if package is None:
        return options
    if not (package / "index.j2").is_file():
        raise SwaggerUIMissing(f"no Swagger UI at {package}: build it first (make install)")
    return dataclasses.replace(options, swagger_ui_template_dir=str(package))
