"""The security hooks a service's spec names, for an OAuth 2 scheme (Entra ID) and an HTTP bearer scheme:

    securitySchemes:
      entra:
        type: oauth2
        flows: ...
        x-tokenInfoFunc: servicekit.auth.security.token_info
        x-scopeValidateFunc: servicekit.auth.security.validate_scope
      bearer:
        type: http
        scheme: bearer
        x-bearerInfoFunc: servicekit.auth.security.bearer_info

Both read the same `Authorization: Bearer` header and accept the same tokens. Connexion checks the OAuth 2
scheme's scopes itself (through `validate_scope`); the bearer hook holds a token to the permissions the
operation's OAuth 2 requirements declare, since OpenAPI 3.0 lets no other scheme list any.
"""

from __future__ import annotations

from typing import Any

import elasticapm
import structlog
from connexion.exceptions import OAuthProblem, OAuthScopeProblem
from connexion.lifecycle import ConnexionRequest

from servicekit.auth.permissions import permission_sets, short_name
from servicekit.auth.signing_keys import SigningKeysUnavailable
from servicekit.auth.tokens import InvalidToken, TokenValidator
from servicekit.middleware.routes import routed_operation
from servicekit.parts import Parts
from servicekit.problems import ServiceUnavailable

RETRY_KEYS_AFTER_SECONDS = 30

log = structlog.get_logger(__name__)


async def token_info(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """`x-tokenInfoFunc` of the OAuth 2 scheme."""
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
    """`x-scopeValidateFunc`: the spec names scopes in full, tokens carry short names."""
    return {short_name(scope) for scope in required_scopes} <= set(token_scopes)


async def bearer_info(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """`x-bearerInfoFunc` of the bearer scheme, for tokens pasted into Swagger UI or sent by scripts."""
    info = await token_info(token, request)
    operation = routed_operation(request.scope)
    if operation is None:  # security runs only on routed operations; should that change, refuse
        raise OAuthProblem(detail="No operation matched this request")
    needed = permission_sets(operation)
    if needed and not any(permissions <= set(info["scope"]) for permissions in needed):
        raise OAuthScopeProblem(token_scopes=info["scope"], required_scopes=sorted(needed[0]))
    return info
