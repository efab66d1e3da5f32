"""The spec operation that served a request: its path template (`/items/{id}`), for grouping logs and
traces, and the security it declares, for the hooks that enforce it.

Connexion routes a copy of the request's scope, so only what runs inside routing can read the operation
from it. Middleware outside (the access log) asks for an `OperationRecord` first, and
`RecordOperationMiddleware`, inside routing, fills it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.internals.connexion import ConnexionMiddleware, connexion_middleware, routing

SecurityRequirement = dict[str, list[str]]  # scheme name: the scopes it needs
_RECORD_KEY = "servicekit.operation_record"


@dataclass(frozen=True)
class RoutedOperation:
    template: str
    security: list[SecurityRequirement]
    schemes: dict[str, dict[str, Any]]


# Connexion's routing says which operation served a request but not its path template or its security,
# and the Starlette route it matched stays in a scope we never see; the specs themselves know. One index
# per app, made at its first request, when every API has been added.
_indexes: WeakKeyDictionary[ConnexionMiddleware, dict[tuple[str, str], RoutedOperation]] = WeakKeyDictionary()


def routed_operation(scope: Scope) -> RoutedOperation | None:
    """The operation Connexion routed this request to, or None when no route matched."""
    routed = routing(scope)
    if routed.get("operation_id") is None:
        return None
    app = connexion_middleware(scope)
    if app not in _indexes:
        _indexes[app] = _index(app)
    return _indexes[app].get((routed["api_base_path"], routed["operation_id"]))


@dataclass
class OperationRecord:
    """The operation a request was routed to; None until routing has run, and when no route matched."""

    operation: RoutedOperation | None = None


def operation_record(scope: Scope) -> OperationRecord:
    """The record of the operation this request will be routed to, for middleware outside routing. It is an
    object in the scope, not a key: routing's copy of the scope shares the object, and a key it set would
    stay in the copy."""
    record: OperationRecord = scope.setdefault(_RECORD_KEY, OperationRecord())
    return record


class RecordOperationMiddleware:
    """Inside routing: fills in the request's `OperationRecord`, if middleware outside asked for one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        record: OperationRecord | None = scope.get(_RECORD_KEY)
        if record is not None:
            record.operation = routed_operation(scope)
        await self.app(scope, receive, send)


def _index(app: ConnexionMiddleware) -> dict[tuple[str, str], RoutedOperation]:
    # Its APIs, and their specs' attributes, are Connexion's internals (servicekit.internals.connexion).
    index = {}
    for api in app.apis:
        spec = api.specification
        base_path = spec.base_path if api.base_path is None else api.base_path
        for path, operations in spec["paths"].items():
            for operation in operations.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    security = operation.get("security", spec.security or [])
                    index[(base_path, operation["operationId"])] = RoutedOperation(
                        f"{base_path}{path}", security, spec.security_schemes
                    )
    return index
