"""Swagger UI at /ui, with the Entra ID login (authorization code + PKCE) filled in from settings."""

from __future__ import annotations

from typing import Any

from connexion.options import SwaggerUIOptions

from servicekit.settings import ServiceSettings

SWAGGER_UI_PATH = "/ui"


def swagger_ui_options(settings: ServiceSettings, scopes: list[str]) -> SwaggerUIOptions:
    """`scopes`: what Swagger UI asks Entra for on the user's behalf, by full name (the spec's OAuth 2 scopes)."""
    arguments: dict[str, Any] = {}
    if settings.swagger_ui_client_id:
        arguments["initOAuth"] = {
            "clientId": settings.swagger_ui_client_id,
            "usePkceWithAuthorizationCodeGrant": True,
            # Entra issues a token for our API only when the scope is named in full.
            "scopes": " ".join(["openid", "profile", "offline_access", *scopes]),
        }
    return SwaggerUIOptions(swagger_ui_path=SWAGGER_UI_PATH, swagger_ui_template_arguments=arguments)
