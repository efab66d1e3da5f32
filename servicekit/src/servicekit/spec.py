"""A service's OpenAPI document as the kit reads it: its Jinja placeholders filled in from settings, and
a start-up check that each view takes exactly the parameters its operation declares, so that a parameter
renamed in the spec stops the service instead of silently going unread."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import jinja2
import yaml
from connexion.decorators.parameter import sanitized
from connexion.json_schema import resolve_refs
from connexion.utils import get_function_from_name

from servicekit.settings import ServiceSettings

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Connexion passes a view its path and query parameters (headers and cookies stay in the request), the
# body, and these when the view names them.
PASSED_PARAMETERS = ("path", "query")
CONTEXT_ARGUMENTS = frozenset({"user", "token_info"})


class ViewMismatch(Exception):
    """A view and its operation disagree on the parameters."""


def spec_arguments(settings: ServiceSettings) -> dict[str, str]:
    """The values a spec takes as Jinja placeholders: where Entra ID logs users in, and for which API."""
    return {
        "auth_tenant": settings.auth_tenant_id or "organizations",
        "api_scope_prefix": settings.api_scope_prefix,
    }


def rendered_spec(path: Path, settings: ServiceSettings) -> dict[str, Any]:
    """The spec with its placeholders filled in, as Connexion loads it."""
    spec: dict[str, Any] = yaml.safe_load(jinja2.Template(path.read_text()).render(spec_arguments(settings)))
    return spec


def declared_methods(spec: dict[str, Any]) -> list[str]:
    """The HTTP methods the spec's operations answer to, and HEAD wherever GET is."""
    methods = {method.upper() for item in spec["paths"].values() for method in item if method in HTTP_METHODS}
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


def check_views(spec: dict[str, Any]) -> None:
    """Raises ViewMismatch unless every operation's view takes its parameters by name, and nothing else."""
    for path, item in resolve_refs(spec)["paths"].items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            if method in item:
                _check_view(f"{method.upper()} {path}", item[method], [*shared, *item[method].get("parameters", [])])


def _check_view(name: str, operation: dict[str, Any], parameters: list[dict[str, Any]]) -> None:
    view = get_function_from_name(operation["operationId"])
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
