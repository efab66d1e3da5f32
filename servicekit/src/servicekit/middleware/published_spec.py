"""The spec as clients and Swagger UI read it at /openapi.json (and /openapi.yaml): the document as
configured, its `$ref`s and components kept, so that a client generated from it has one named model per
schema. Connexion's own serves it with every `$ref` inlined (a generator then makes a class per use) and
its `servers` replaced by the base path, which for most services is none at all.

Behind a proxy that serves the service under a path prefix (`root_path`), relative server URLs get it.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from connexion.options import SwaggerUIOptions
from connexion.spec import Specification
from starlette.requests import Request

from servicekit.internals.connexion import SwaggerUIAPI, SwaggerUIMiddleware


class PublishedSpecAPI(SwaggerUIAPI):  # type: ignore[misc]
    def _spec_for_prefix(self, request: Request) -> dict[str, Any]:
        published: dict[str, Any] = copy.deepcopy(self.specification.raw)
        prefix = self._base_path_for_prefix(request)
        if prefix:
            published["servers"] = [_under(prefix, server) for server in published.get("servers", [{"url": "/"}])]
        return published


def _under(prefix: str, server: dict[str, Any]) -> dict[str, Any]:
    url = server["url"]
    return {**server, "url": prefix + url.rstrip("/")} if url.startswith("/") else server


class PublishedSpecMiddleware(SwaggerUIMiddleware):  # type: ignore[misc]
    """Serves the spec as PublishedSpecAPI does, in front of Connexion's SwaggerUIMiddleware, which stays
    in the stack to serve Swagger UI (and to mark the position other middleware is placed by)."""

    def add_api(
        self,
        specification: Specification,
        base_path: str | None = None,
        swagger_ui_options: SwaggerUIOptions | None = None,
        **kwargs: Any,
    ) -> None:
        options = dataclasses.replace(swagger_ui_options or SwaggerUIOptions(), serve_spec=True, swagger_ui=False)
        api = PublishedSpecAPI(
            specification, base_path=base_path, swagger_ui_options=options, default=self.default_fn, **kwargs
        )
        self.router.mount(api.base_path, app=api.router)
