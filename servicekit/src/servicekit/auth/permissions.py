"""Permissions as a spec names them and as tokens carry them.

A spec names an OAuth 2 scope in full (`api://directory/Orders.Write`), because Entra issues a token for
an API only when asked for the scope by its full name; tokens carry the short name (`Orders.Write`) in
`scp` (delegated scopes) or `roles` (app roles), which the kit treats alike.
"""

from __future__ import annotations

from typing import Any

from servicekit.middleware.routes import RoutedOperation


def short_name(scope: str) -> str:
    return scope.rsplit("/", 1)[-1]


def declared_scopes(spec: dict[str, Any]) -> list[str]:
    """Every scope the spec's OAuth 2 flows offer, by full name."""
    schemes = spec.get("components", {}).get("securitySchemes", {}).values()
    return sorted(
        {
            scope
            for scheme in schemes
            if scheme.get("type") == "oauth2"
            for flow in scheme.get("flows", {}).values()
            for scope in flow.get("scopes", {})
        }
    )


def declared_permissions(spec: dict[str, Any]) -> list[str]:
    """Every permission the spec declares, by the short name a token carries."""
    return sorted({short_name(scope) for scope in declared_scopes(spec)})


def permission_sets(operation: RoutedOperation) -> list[frozenset[str]]:
    """What the operation's OAuth 2 requirements ask for, as alternatives: a token holding all of any one
    set may call it (within a requirement every scheme must be met, so their scopes add up). OpenAPI 3.0
    lets only OAuth 2 schemes list scopes, so a pasted bearer token is held to these too; an operation
    that names no OAuth 2 scheme asks only for a valid token."""
    sets = []
    for requirement in operation.security:
        oauth2 = [scopes for scheme, scopes in requirement.items() if _is_oauth2(operation, scheme)]
        if oauth2:
            sets.append(frozenset(short_name(scope) for scopes in oauth2 for scope in scopes))
    return sets


def _is_oauth2(operation: RoutedOperation, scheme: str) -> bool:
    return bool(operation.schemes.get(scheme, {}).get("type") == "oauth2")
