"""Swagger UI at /ui, with the Entra ID login (authorization code + PKCE) filled in from settings."""

from __future__ import annotations

from typing import Any

from connexion.options import SwaggerUIOptions

from app.auth.tokens import READ_PERMISSION
from config import Settings

SWAGGER_UI_PATH = "/ui"


def spec_arguments(settings: Settings) -> dict[str, str]:
    """The values `api-spec.yml` takes as Jinja placeholders: where to log in, and for what."""
    return {
        "auth_tenant": settings.auth_tenant_id or "organizations",
        "api_scope_prefix": settings.api_scope_prefix,
    }


def swagger_ui_options(settings: Settings) -> SwaggerUIOptions:
    arguments: dict[str, Any] = {}
    if settings.swagger_ui_client_id:
        arguments["initOAuth"] = {
            "clientId": settings.swagger_ui_client_id,
            "usePkceWithAuthorizationCodeGrant": True,
            # Entra issues a token for our API only when the scope is named in full.
            "scopes": f"openid profile offline_access {settings.api_scope_prefix}/{READ_PERMISSION}",
        }
    return SwaggerUIOptions(swagger_ui_path=SWAGGER_UI_PATH, swagger_ui_template_arguments=arguments)
