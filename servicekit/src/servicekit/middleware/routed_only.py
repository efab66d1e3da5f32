"""Only what Connexion routed reaches the framework.

Connexion hands a request no operation matched on to Flask, which merges `//me` (or `/%2Fme`) into
`/me` and dispatches to that view without Connexion's security or validation. Such a request ends here,
as a 404, before it can reach any view.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.internals.connexion import routed_operation_id

NOT_ROUTED = "No operation of this API answers at this path; /openapi.json lists them."


class RoutedOnlyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and routed_operation_id(scope) is None:
            raise HTTPException(404, NOT_ROUTED)
        await self.app(scope, receive, send)
