"""The spec path template that served a request (`/items/{id}`), for grouping logs and traces."""

from __future__ import annotations

from typing import Any

from starlette.types import Scope


class RouteTemplates:
    """Connexion's routing says which operation served a request but not its path template, and the
    Starlette route it matched stays in a scope we never see; the specs themselves know."""

    def __init__(self) -> None:
        self._templates: dict[tuple[str, str], str] | None = None

    def of(self, scope: Scope) -> str | None:
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        if routing.get("operation_id") is None:
            return None
        if self._templates is None:  # the APIs are all added by the first request
            self._templates = _templates(scope["app"])
        return self._templates.get((routing["api_base_path"], routing["operation_id"]))


def _templates(connexion_middleware: Any) -> dict[tuple[str, str], str]:
    templates = {}
    for api in connexion_middleware.apis:
        base_path = api.specification.base_path if api.base_path is None else api.base_path
        for path, operations in api.specification["paths"].items():
            for operation in operations.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    templates[(base_path, operation["operationId"])] = f"{base_path}{path}"
    return templates
