"""A service's OpenAPI document as the kit reads it, and the start-up check of its views.

The file is a plain OpenAPI document that any linter or generator reads as it is: operation ids are the
views' names in the service's views module, scopes their short names (`Orders.Read`). What depends on
the deployment the kit fills in from settings: the Entra tenant's login URLs, and each scope's full
name (`api://orders/Orders.Read`), since Entra issues a token for an API only when asked for the scope
by its full name.

At start-up each view must take exactly the parameters its operation declares, so that a parameter
renamed in the spec stops the service instead of silently going unread.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from connexion.resolver import Resolver

from servicekit.internals.connexion import get_function_from_name, resolve_refs, sanitized
from servicekit.middleware.probes import PROBE_OPERATIONS
from servicekit.settings import ServiceSettings
from servicekit.validation import SchemaValidator

__all__ = ["HTTP_METHODS", "ViewMismatch", "broken_rule", "configured_spec", "parameter_definition", "parameter_schema"]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
"""The methods an OpenAPI path item may hold operations for."""
# Connexion passes a view its path and query parameters (headers and cookies stay in the request), the
# body, and these when the view names them.
PASSED_PARAMETERS = ("path", "query")
CONTEXT_ARGUMENTS = frozenset({"user", "token_info"})
ENTRA_LOGIN = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/{endpoint}"


def parameter_definition(path: Path, name: str) -> dict[str, Any]:
    """The spec's shared parameter `name` (under components/parameters), its `$ref`s resolved."""
    spec: dict[str, Any] = resolve_refs(yaml.safe_load(path.read_text()))
    definition: dict[str, Any] = spec["components"]["parameters"][name]
    return definition


def parameter_schema(path: Path, name: str) -> dict[str, Any]:
    """The schema of the spec's shared parameter `name`: the rules that data a service takes from elsewhere
    must meet if callers are ever to ask for it by that parameter."""
    schema: dict[str, Any] = parameter_definition(path, name)["schema"]
    return schema


def broken_rule(schema: dict[str, Any], value: object) -> str | None:
    """The first of `schema`'s rules that `value` breaks, as "maxLength 200", or None when it meets them all."""
    error = next(iter(SchemaValidator(schema).iter_errors(value)), None)  # as a request's parameter is checked
    return None if error is None else f"{error.validator} {error.validator_value}"


class ViewMismatch(Exception):
    """A view and its operation disagree on the parameters."""


def configured_spec(path: Path, settings: ServiceSettings) -> dict[str, Any]:
    """The spec at `path`, its Entra login URLs and scope names made this deployment's."""
    spec: dict[str, Any] = yaml.safe_load(path.read_text())
    full_name = _full_scope_name(settings)
    oauth2 = {name for name, scheme in _schemes(spec).items() if scheme.get("type") == "oauth2"}
    for name in oauth2:
        for flow in _schemes(spec)[name].get("flows", {}).values():
            flow["scopes"] = {full_name(scope): about for scope, about in flow.get("scopes", {}).items()}
            for endpoint, key in (("authorize", "authorizationUrl"), ("token", "tokenUrl")):
                if key in flow:
                    flow[key] = ENTRA_LOGIN.format(tenant=settings.auth_tenant_id or "organizations", endpoint=endpoint)
    for requirement in _security_requirements(spec):
        for name in oauth2 & requirement.keys():
            requirement[name] = [full_name(scope) for scope in requirement[name]]
    return spec


def _full_scope_name(settings: ServiceSettings) -> Callable[[str], str]:
    return lambda scope: scope if "://" in scope else f"{settings.api_scope_prefix}/{scope}"


def _schemes(spec: dict[str, Any]) -> dict[str, Any]:
    schemes: dict[str, Any] = spec.get("components", {}).get("securitySchemes", {})
    return schemes


def _security_requirements(spec: dict[str, Any]) -> Iterator[dict[str, list[str]]]:
    yield from spec.get("security", [])
    for item in spec["paths"].values():
        for method in HTTP_METHODS:
            yield from item.get(method, {}).get("security", [])


class ViewResolver(Resolver):  # type: ignore[misc]
    """An operation id names a view in the service's views module (`get_orders`), or anywhere by its
    dotted path; the kit's probe operations (`get_healthz`, `get_readyz`) resolve to the kit."""

    def __init__(self, views_module: str) -> None:
        super().__init__(function_resolver=self.view)
        self.views_module = views_module

    def view(self, operation_id: str) -> Callable[..., Any]:
        if operation_id in PROBE_OPERATIONS:
            return PROBE_OPERATIONS[operation_id]
        dotted = operation_id if "." in operation_id else f"{self.views_module}.{operation_id}"
        function: Callable[..., Any] = get_function_from_name(dotted)
        return function


def declared_methods(spec: dict[str, Any]) -> list[str]:
    """The HTTP methods the spec's operations answer to, and HEAD wherever GET is."""
    methods = {method.upper() for item in spec["paths"].values() for method in item if method in HTTP_METHODS}
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


def check_views(spec: dict[str, Any], resolver: ViewResolver) -> None:
    """Raises ViewMismatch unless every operation's view takes its parameters by name, and nothing else."""
    for path, item in resolve_refs(spec)["paths"].items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                view = resolver.view(operation["operationId"])
                _check_view(f"{method.upper()} {path}", view, operation, [*shared, *operation.get("parameters", [])])


def _check_view(
    name: str, view: Callable[..., Any], operation: dict[str, Any], parameters: list[dict[str, Any]]
) -> None:
    arguments = inspect.signature(view).parameters
    if any(argument.kind is inspect.Parameter.VAR_KEYWORD for argument in arguments.values()):
        raise ViewMismatch(f"{operation['operationId']} ({name}) takes **kwargs: name its parameters instead")
    declared = {sanitized(parameter["name"]) for parameter in parameters if parameter["in"] in PASSED_PARAMETERS}
    if "requestBody" in operation:
        declared.add(operation["requestBody"].get("x-body-name", "body"))
    missing = sorted(declared - arguments.keys())
    unknown = sorted(arguments.keys() - declared - CONTEXT_ARGUMENTS)
    if missing or unknown:
        raise ViewMismatch(
            f"{operation['operationId']} ({name}) does not match its spec: "
            f"parameters it does not take {missing}, arguments the spec does not declare {unknown}"
        )
