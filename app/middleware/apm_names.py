"""Names each APM transaction by its route template (`GET /directmail-csv`) and labels it with the
request id. It sits after routing and before security, so refused requests (401, 403) are named too;
a request no route matches keeps the agent's `GET unknown route`."""

from __future__ import annotations

import elasticapm
from starlette.types import ASGIApp, Receive, Scope, Send

from app.middleware.request_id import current_request_id
from app.middleware.routes import RouteTemplates


class TransactionNameMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            template = self.routes.of(scope)
            if template:
                elasticapm.set_transaction_name(f"{scope['method']} {template}", override=True)
            elasticapm.label(request_id=current_request_id())
        await self.app(scope, receive, send)
