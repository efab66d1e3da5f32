"""Connexion's internals the kit relies on: what it overrides in Connexion's classes (validators, the URI
parser, the spec's endpoint, the bearer security handler), the scope extension routing writes, the
FlaskApp's bridge to Flask, and the undocumented modules whose helpers the kit reuses.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

from servicekit.internals import Internals

CONNEXION = Internals("connexion")

with CONNEXION.imported():
    from connexion.apps.flask import FlaskApp, FlaskASGIApp
    from connexion.datastructures import MediaTypeDict
    from connexion.decorators.parameter import sanitized
    from connexion.json_schema import Draft4RequestValidator, format_error_with_path, resolve_refs
    from connexion.middleware.abstract import ROUTING_CONTEXT
    from connexion.middleware.context import ContextOperation
    from connexion.middleware.main import API, ConnexionMiddleware
    from connexion.middleware.routing import RoutingOperation
    from connexion.middleware.server_error import ServerErrorMiddleware
    from connexion.middleware.swagger_ui import SwaggerUIAPI, SwaggerUIMiddleware
    from connexion.security import BearerSecurityHandler
    from connexion.spec import Specification
    from connexion.uri_parsing import OpenAPIURIParser
    from connexion.utils import get_function_from_name, is_null, is_nullable
    from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator

CONNEXION.require_assigned(FlaskApp, "_middleware_app")
CONNEXION.require_assigned(FlaskASGIApp, "asgi_app")
CONNEXION.require(JSONRequestBodyValidator, "_validator", "_parse", "_validate")
# servicekit.validation overrides both, raising its refusals where Connexion returns messages.
CONNEXION.require(ParameterValidator, "validate_parameter", "validate_query_parameter_list")
CONNEXION.require_assigned(JSONRequestBodyValidator, "_schema", "_encoding", "_nullable")
CONNEXION.require(OpenAPIURIParser, "_split", "_resolve_param_duplicates", "resolve_query", "param_defns")
CONNEXION.require(SwaggerUIAPI, "_spec_for_prefix", "_base_path_for_prefix")
CONNEXION.require_assigned(SwaggerUIAPI, "specification")
CONNEXION.require(SwaggerUIMiddleware, "default_fn")
CONNEXION.require_assigned(SwaggerUIMiddleware, "router")
CONNEXION.require(BearerSecurityHandler, "_resolve_func")
CONNEXION.require(ConnexionMiddleware, "default_middlewares")
CONNEXION.require_constants(ConnexionMiddleware.__call__, "app")  # scope["app"] = self
CONNEXION.require_assigned(ConnexionMiddleware, "apis")
CONNEXION.require_assigned(API, "specification", "base_path")
CONNEXION.require(Specification, "raw", "base_path", "security", "security_schemes")
CONNEXION.require_constants(RoutingOperation.__call__, "api_base_path", "operation_id")
CONNEXION.require_constants(ContextOperation.__call__, "connexion_context")


def routing(scope: Scope) -> dict[str, Any]:
    """What Connexion's routing wrote of the request (`operation_id`, `api_base_path`); empty before it,
    and the operation id None when no operation matched."""
    routed: dict[str, Any] = scope.get("extensions", {}).get(ROUTING_CONTEXT, {})
    return routed


def request_context(scope: Scope) -> dict[str, Any]:
    """What Connexion's security wrote of the request (`user`, `token_info`), which its context middleware
    hands to the view; empty before security has run."""
    context: dict[str, Any] = scope.get("extensions", {}).get("connexion_context", {})
    return context


def routed_operation_id(scope: Scope) -> str | None:
    operation_id: str | None = routing(scope).get("operation_id")
    return operation_id


def connexion_middleware(scope: Scope) -> ConnexionMiddleware:
    """The Connexion app serving the request, which holds its APIs (`.apis`, each with its `specification`
    and `base_path`)."""
    middleware: ConnexionMiddleware = scope["app"]
    return middleware


def serve_flask_through(app: FlaskApp, bridge: Any) -> None:
    """`bridge` (an ASGI app around Flask's WSGI app) serves Flask's views in place of Connexion's own."""
    app._middleware_app.asgi_app = bridge


__all__ = [
    "VALIDATOR_MAP",
    "BearerSecurityHandler",
    "ConnexionMiddleware",
    "Draft4RequestValidator",
    "JSONRequestBodyValidator",
    "MediaTypeDict",
    "OpenAPIURIParser",
    "ParameterValidator",
    "ServerErrorMiddleware",
    "SwaggerUIAPI",
    "SwaggerUIMiddleware",
    "connexion_middleware",
    "format_error_with_path",
    "get_function_from_name",
    "is_null",
    "is_nullable",
    "request_context",
    "resolve_refs",
    "routed_operation_id",
    "routing",
    "sanitized",
    "serve_flask_through",
]
