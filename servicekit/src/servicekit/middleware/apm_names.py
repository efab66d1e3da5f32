"""Names each APM transaction by its route template (`GET /items/{id}`) and labels it with the
request id. It sits after routing and before security, so refused requests (401, 403) are named too;
a request no route matches keeps the agent's `GET unknown route`."""

from __future__ import annotations

import elasticapm
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.middleware.request_id import current_request_id
from servicekit.middleware.routes import routed_operation


class TransactionNameMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            operation = routed_operation(scope)
            if operation:
                elasticapm.set_transaction_name(f"{scope['method']} {operation.template}", override=True)
            elasticapm.label(request_id=current_request_id())
        await self.app(scope, receive, send)
