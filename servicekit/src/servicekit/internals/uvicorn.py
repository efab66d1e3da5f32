"""uvicorn's internals the kit relies on.

`servicekit.http_limits` extends uvicorn's httptools protocol, which uvicorn documents only as a class
to name in its `http` setting: the methods and attributes it reaches, and its copy of `data_received`.
`servicekit.server` keeps the signals uvicorn re-raises once stopped (`Server._captured_signals`); the
kit's test servers watch `Server.started` and set `Server.should_exit`.
"""

from __future__ import annotations

from servicekit.internals import Internals

UVICORN = Internals("uvicorn")

with UVICORN.imported():
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
    from uvicorn.server import Server, ServerState

UVICORN.require(
    HttpToolsProtocol,
    "connection_made",
    "connection_lost",
    "eof_received",
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "on_response_complete",
    "handle_websocket_upgrade",
    "_unset_keepalive_if_required",
    "_should_upgrade",
    "_unsupported_upgrade_warning",
)
UVICORN.require_assigned(
    HttpToolsProtocol,
    "config",
    "loop",
    "parser",
    "transport",
    "client",
    "server_state",
    "pipeline",
    "scope",
    "url",
    "headers",
    "cycle",
)
UVICORN.require_assigned(RequestResponseCycle, "response_started", "response_complete", "more_body")
UVICORN.require_assigned(ServerState, "default_headers")
# servicekit.http_limits.HeadLimitedProtocol.data_received is this one, answering a refusal its own way.
UVICORN.require_unchanged(HttpToolsProtocol, "data_received", "02c2572f1df55907")
UVICORN.require(Server, "capture_signals", "handle_exit")
UVICORN.require_assigned(Server, "_captured_signals", "started", "should_exit")

__all__ = ["STATUS_LINE", "HttpToolsProtocol", "RequestResponseCycle", "Server", "ServerState"]
