"""CORS from the `CORS_ORIGINS` setting, for the methods the spec declares; refused preflights answer in
the service's one error model."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from servicekit.problems import PROBLEM_JSON, problem_body


class ProblemCORSMiddleware(CORSMiddleware):
    def __init__(self, app: ASGIApp, *, origins: tuple[str, ...], methods: list[str]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=methods,
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            # Browsers hide response headers from scripts unless listed here.
            expose_headers=["Content-Disposition", "Retry-After", "WWW-Authenticate", "X-Request-ID"],
            max_age=600,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        reason = bytes(response.body).decode()
        headers = {k: v for k, v in response.headers.items() if k.lower() not in {"content-type", "content-length"}}
        return Response(problem_body(400, f"{reason}: the preflight was refused."), 400, headers, PROBLEM_JSON)
