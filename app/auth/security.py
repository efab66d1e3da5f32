"""The security hooks `api-spec.yml` names: its `entra` (OAuth 2) and `bearer` (pasted token) schemes.

Both read the same `Authorization: Bearer` header and accept the same tokens; Connexion checks the
`entra` scheme's scopes itself (through `validate_scope`), the `bearer` hook checks them here.
"""

from __future__ import annotations

from typing import Any

import elasticapm
import structlog
from connexion.exceptions import OAuthProblem, OAuthScopeProblem
from connexion.lifecycle import ConnexionRequest

from app.auth.signing_keys import SigningKeysUnavailable
from app.auth.tokens import READ_PERMISSION, InvalidToken, TokenValidator
from app.errors import ServiceUnavailable

RETRY_KEYS_AFTER_SECONDS = 30


async def token_info(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """`x-tokenInfoFunc` of the `entra` scheme."""
    validator: TokenValidator = request.state.token_validator
    try:
        caller = await validator.caller(token)
    except InvalidToken as exc:
        raise OAuthProblem(detail=f"Invalid token: {exc}") from None
    except SigningKeysUnavailable as exc:
        raise ServiceUnavailable(f"Tokens cannot be checked right now: {exc}", RETRY_KEYS_AFTER_SECONDS) from None
    # Every later log line of this request, the access line included, names the caller; so does its trace.
    structlog.contextvars.bind_contextvars(
        **{"user.id": caller.object_id, "user.name": caller.name, "user.app_id": caller.app_id}
    )
    elasticapm.set_user_context(user_id=caller.object_id, username=caller.name)
    return {"sub": caller.object_id, "scope": sorted(caller.permissions), "caller": caller}


def validate_scope(required_scopes: list[str], token_scopes: list[str]) -> bool:
    """`x-scopeValidateFunc`: the spec names scopes in full (`api://.../Directmail.Read`), as Entra
    needs them to issue a token, while tokens carry short names in `scp` and `roles`."""
    return {_short_name(scope) for scope in required_scopes} <= set(token_scopes)


async def bearer_info(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """`x-bearerInfoFunc` of the `bearer` scheme, for tokens pasted into Swagger UI or sent by scripts.

    OpenAPI 3.0 lets only OAuth 2 schemes list scopes, so the spec cannot say what a pasted token
    needs: every data operation needs the service's read permission, and this hook asks for it."""
    info = await token_info(token, request)
    if not validate_scope([READ_PERMISSION], info["scope"]):
        raise OAuthScopeProblem(token_scopes=info["scope"], required_scopes=[READ_PERMISSION])
    return info


def _short_name(scope: str) -> str:
    return scope.rsplit("/", 1)[-1]
