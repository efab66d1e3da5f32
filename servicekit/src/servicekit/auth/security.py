"""How the kit checks the two security schemes a spec declares, an OAuth 2 scheme (Entra ID) and an HTTP
bearer scheme:

    securitySchemes:
      entra:
        type: oauth2
        flows: ...
      bearer:
        type: http
        scheme: bearer

Both read the same `Authorization: Bearer` header and accept the same tokens. Connexion checks the OAuth 2
scheme's scopes itself (through `validate_scope`); the bearer hook holds a token to the permissions the
operation's OAuth 2 requirements declare, since OpenAPI 3.0 lets no other scheme list any. The hooks are
given to Connexion by scheme type (`SECURITY_HANDLERS`), so the published spec names no internal function,
and no environment variable can swap them (Connexion's TOKENINFO_FUNC and the like are not read).
"""

from __future__ import annotations

from typing import Any

import elasticapm
import structlog
from connexion.exceptions import OAuthProblem, OAuthScopeProblem
from connexion.lifecycle import ConnexionRequest
from connexion.security import AbstractSecurityHandler, OAuthSecurityHandler

from servicekit.auth.permissions import permission_sets, short_name
from servicekit.auth.signing_keys import SigningKeysUnavailable
from servicekit.auth.tokens import InvalidToken, TokenValidator
from servicekit.internals.connexion import BearerSecurityHandler  # its _resolve_func is overridden
from servicekit.middleware.routes import routed_operation
from servicekit.parts import Parts
from servicekit.problems import ServiceUnavailable

__all__ = ["SECURITY_HANDLERS"]

RETRY_KEYS_AFTER_SECONDS = 30

log = structlog.get_logger(__name__)


async def token_info(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """What a valid token says of its caller; checks the token."""
    validator = Parts.of(request.scope).get(TokenValidator)
    try:
        caller = await validator.caller(token)
    except InvalidToken as exc:
        raise OAuthProblem(detail=f"Invalid token: {exc}") from None
    except SigningKeysUnavailable as exc:
        log.warning("token not checked", reason=str(exc))
        raise ServiceUnavailable(
            "Tokens cannot be checked right now: the token issuer's signing keys are unavailable.",
            RETRY_KEYS_AFTER_SECONDS,
        ) from None
    # Every later log line of this request, the access line included, names the caller; so does its trace.
    structlog.contextvars.bind_contextvars(
        **{"user.id": caller.object_id, "user.name": caller.name, "user.app_id": caller.app_id}
    )
    elasticapm.set_user_context(user_id=caller.object_id, username=caller.name)
    return {"sub": caller.object_id, "scope": sorted(caller.permissions), "caller": caller}


def validate_scope(required_scopes: list[str], token_scopes: list[str]) -> bool:
    """The spec names scopes in full, tokens carry short names."""
    return {short_name(scope) for scope in required_scopes} <= set(token_scopes)


async def bearer_info(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """The bearer scheme's check, for tokens pasted into Swagger UI or sent by scripts."""
    info = await token_info(token, request)
    operation = routed_operation(request.scope)
    if operation is None:  # security runs only on routed operations; should that change, refuse
        raise OAuthProblem(detail="No operation matched this request")
    needed = permission_sets(operation)
    if needed and not any(permissions <= set(info["scope"]) for permissions in needed):
        raise OAuthScopeProblem(token_scopes=info["scope"], required_scopes=sorted(needed[0]))
    return info


class EntraOAuthHandler(OAuthSecurityHandler):  # type: ignore[misc]
    def get_tokeninfo_func(self, security_definition: dict[str, Any]) -> Any:
        return token_info

    @classmethod
    def get_scope_validate_func(cls, security_definition: dict[str, Any]) -> Any:
        return validate_scope


class EntraBearerHandler(BearerSecurityHandler):  # type: ignore[misc]
    def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
        return bearer_info


SECURITY_HANDLERS: dict[str, type[AbstractSecurityHandler]] = {
    "oauth2": EntraOAuthHandler,
    "bearer": EntraBearerHandler,
}
"""The kit's Connexion security handlers by scheme type (`service_app` gives them to Connexion): an OAuth 2
scheme's tokens held to the operation's scopes, a bearer scheme's to the same permissions."""
