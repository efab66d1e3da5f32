"""Limits on the request head (request line and headers), enforced by the HTTP server itself.

uvicorn's httptools protocol has none: a request head may be any size and take any time. httptools
concatenates the pieces of a header until the header ends, so one 64 MiB header cost seconds of CPU
and 64 MiB of memory before any middleware could look at it, and a connection that sends half a head
(or nothing) was held open for ever. Only the protocol sees bytes as they arrive, so the limits live in
a subclass of it: a URL past MAX_URL_BYTES is answered 414 and headers past MAX_HEADER_BYTES or
MAX_HEADERS 431, as soon as the excess arrives; a head not complete within REQUEST_HEAD_TIMEOUT_SECONDS
408. Requests llhttp cannot parse get 400. Each is a small `application/problem+json` body, then the
connection is closed without reading further. A connection that sends bytes but no request (a bare CRLF
after a response, say) is closed quietly once the head timeout has passed, as one that sends nothing.

A client that half-closes (shuts down its sending side) once its request is sent gets its response, then
the connection is closed: uvicorn would close it at once, the response unsent. One that hung up sends the
same FIN: an interim `100 Continue` tells them apart (a closed socket answers it with a reset, which the
kernel reports), so a hang-up still ends its request at once. A bug in the protocol or
in uvicorn's part of it is a 500, logged as an error, never a 400 blamed on the client.

The protocol also hands each request the count of bytes its connection's client acknowledged
(`servicekit.tcp_delivery`): only the protocol sees the socket.

A subclass of uvicorn's protocol rather than another server: llhttp (through httptools) stays the
parser, so what is accepted, and how fast, does not change; h11, which can cap a head's size, parses in
Python and has no timeout either. Every uvicorn internal this relies on is checked as the service starts
(`servicekit.internals.uvicorn`).

Whether to keep it, with an ingress in front that limits heads too: yes. Not every caller comes through
the ingress (other pods, port-forwards, the kubelet's probes), the 414/431/408 answers are problems with a
request id rather than an ingress's HTML page, and `servicekit.tcp_delivery` needs the socket, which only
the protocol holds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NoReturn

import httptools
import orjson
import structlog
import uvicorn

from servicekit.internals.uvicorn import STATUS_LINE, HttpToolsProtocol
from servicekit.middleware.request_id import new_request_id
from servicekit.problems import FAILED, PROBLEM_JSON
from servicekit.settings import ServiceSettings
from servicekit.tcp_delivery import SCOPE_KEY, TcpDelivery

# What a head holds beyond its target and header lines: method, spaces, version and line ends.
REQUEST_LINE_BYTES = 64
# Each header line as sent is its name and value plus ": " and CRLF.
HEADER_LINE_BYTES = 4
# An interim response any HTTP/1.1 client must accept before the final one (RFC 9110, 15.2).
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# How often a half-closed connection is checked for a reset while its response has not begun.
RESET_CHECK_SECONDS = 0.05

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class HeadLimits:
    """What one request head may hold, and how long it may take to arrive."""

    max_url_bytes: int
    max_header_bytes: int
    max_headers: int
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> HeadLimits:
        return cls(
            max_url_bytes=settings.max_url_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            timeout_seconds=settings.request_head_timeout_seconds,
        )


class HeadLimitedConfig(uvicorn.Config):
    """uvicorn's Config, serving HTTP/1.1 through `HeadLimitedProtocol` under `head_limits`."""

    def __init__(self, app: Any, *, head_limits: HeadLimits, **options: Any) -> None:
        super().__init__(app, http=HeadLimitedProtocol, **options)
        self.head_limits = head_limits


class HeadRefused(Exception):
    """A request head the server answers itself, before any app sees it."""

    def __init__(self, status: HTTPStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    @property
    def title(self) -> str:
        # RFC 9110's name, as the app's own 414 has it; Python 3.11 has RFC 2616's "Request-URI Too Long".
        return "URI Too Long" if self.status is HTTPStatus.REQUEST_URI_TOO_LONG else self.status.phrase


class HeadLimitedProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.config, HeadLimitedConfig):
            raise TypeError("HeadLimitedProtocol takes its limits from a HeadLimitedConfig")
        self.limits = self.config.head_limits
        # httptools hands a header over only once it has ended, so until then only the bytes read bound
        # what it holds. A head within the exact limits below never reads more than this.
        self._unfinished_head_limit = self.limits.max_url_bytes + self.limits.max_header_bytes + REQUEST_LINE_BYTES
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_begun = False
        # Counted from the read after the one the head began in: that one may end the request before.
        self._head_received = 0
        self._header_bytes = 0
        self._refused: HeadRefused | None = None
        self._client_done = False  # the client half-closed: it sends nothing more

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        self._delivery = TcpDelivery(sock) if sock is not None else None
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        if self._delivery is not None:
            self._delivery.connection_lost()  # the socket is closed once this returns
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, but answering a refusal rather than a bare 400, and a failure with a 500.
        self._unset_keepalive_if_required()
        if self._head_begun:
            self._head_received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserCallbackError as exc:  # a callback raised: a refusal, a bad URL, or a bug
            if self._refused is not None:
                self._refuse(self._refused)
            elif isinstance(exc.__context__, httptools.HttpParserInvalidURLError):  # uvicorn parses the URL
                self._refuse(HeadRefused(HTTPStatus.BAD_REQUEST, "The request's URL is not valid."))
            else:
                self._fail(exc.__context__)
        except httptools.HttpParserError as exc:
            self._refuse(HeadRefused(HTTPStatus.BAD_REQUEST, f"The request is not valid HTTP: {exc}."))
        else:
            self._bytes_arrived()

    def eof_received(self) -> bool:  # type: ignore[override]
        """True keeps the connection open to answer a request the client sent whole before half-closing;
        anything else (no request, or half of one) ends with the connection, as uvicorn ends it."""
        self._client_done = True
        if not self._responding() or self.cycle.more_body:
            return False
        if not self.cycle.response_started and not self.pipeline:
            self._check_for_hang_up()
        return True

    def _check_for_hang_up(self) -> None:
        """A client that hung up (closed its socket) sends the same FIN as one that half-closed, and its
        request should end at once, its query cancelled. Sent anything, a closed socket answers with a
        reset: an interim 100 Continue, then a look at the connection's state until the response begins
        (its own bytes would meet the reset then)."""
        if self._delivery is None or self.scope.get("http_version") != "1.1":
            return
        self.transport.write(CONTINUE)
        self._watch_for_reset(self._delivery)

    def _watch_for_reset(self, delivery: TcpDelivery) -> None:
        if self.transport.is_closing() or self.cycle.response_started:
            return
        if delivery.reset_by_client():
            self.transport.abort()  # as uvicorn ends a connection lost: the app hears http.disconnect
            return
        self.loop.call_later(RESET_CHECK_SECONDS, self._watch_for_reset, delivery)

    def on_response_complete(self) -> None:
        HttpToolsProtocol.on_response_complete(self)  # starts a pipelined request, if there is one
        if self._client_done and not self._responding() and not self.transport.is_closing():
            self.transport.close()

    # The parser's callbacks call HttpToolsProtocol's by name: super() would cost more than their checks.

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._head_begun = True
        if self._delivery is not None:
            self.scope[SCOPE_KEY] = self._delivery  # type: ignore[literal-required]
        self._head_received = 0
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        HttpToolsProtocol.on_url(self, url)
        if len(self.url) > self.limits.max_url_bytes:
            self._stop_parsing(
                HeadRefused(
                    HTTPStatus.REQUEST_URI_TOO_LONG,
                    f"The URL is too long: the limit is {self.limits.max_url_bytes} bytes.",
                )
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + HEADER_LINE_BYTES
        if self._header_bytes > self.limits.max_header_bytes:
            self._stop_parsing(self._headers_too_large())
        if len(self.headers) >= self.limits.max_headers:
            self._stop_parsing(
                HeadRefused(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"The request has too many headers: the limit is {self.limits.max_headers}.",
                )
            )
        HttpToolsProtocol.on_header(self, name, value)

    def on_headers_complete(self) -> None:
        self._head_begun = False
        self._stop_head_timer()
        HttpToolsProtocol.on_headers_complete(self)

    def _bytes_arrived(self) -> None:
        if self._head_begun and self._head_received > self._unfinished_head_limit:
            self._refuse(self._headers_too_large())
        elif self._head_timer is None and not self._responding():
            # Any bytes between requests start the clock, a bare CRLF (which llhttp skips, beginning no
            # request) too: reading them stopped uvicorn's keep-alive timeout. A head pipelined behind a
            # response (a long download, say) is not timed until that is sent; uvicorn's keep-alive
            # timeout then closes a silent connection, and its next bytes start this.
            self._start_head_timer()

    def _responding(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _headers_too_large(self) -> HeadRefused:
        return HeadRefused(
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
            f"The request's headers are too large: the limit is {self.limits.max_header_bytes} bytes.",
        )

    def _stop_parsing(self, refused: HeadRefused) -> NoReturn:
        # Raising is the only way to stop llhttp midway through a read; httptools turns it into a parse
        # error, which data_received answers with this refusal.
        self._refused = refused
        raise refused

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.timeout_seconds, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if not self._head_begun:
            self.transport.close()  # nothing was asked: closed quietly, as uvicorn ends an idle keep-alive
            return
        seconds = f"{self.limits.timeout_seconds:g}"
        self._refuse(
            HeadRefused(
                HTTPStatus.REQUEST_TIMEOUT, f"The request's head took too long to arrive: the limit is {seconds} s."
            )
        )

    def _refuse(self, refused: HeadRefused) -> None:
        request_id = self._answer(refused.status, refused.title, refused.detail)
        log.info("request refused", status=refused.status.value, detail=refused.detail, **self._ids(request_id))

    def _fail(self, error: BaseException | None) -> None:
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        request_id = self._answer(status, status.phrase, FAILED)
        log.error("request failed", status=status.value, exc_info=error, **self._ids(request_id))

    def _ids(self, request_id: str) -> dict[str, Any]:
        return {"client.address": self.client[0] if self.client else None, "http.request.id": request_id}

    def _answer(self, status: HTTPStatus, title: str, detail: str) -> str:
        """Write a problem and close the connection, reading nothing more; the problem's request id."""
        request_id = new_request_id()
        body = orjson.dumps(
            {"type": "about:blank", "title": title, "status": status.value, "detail": detail, "request_id": request_id}
        )
        head = [STATUS_LINE[status.value]]
        head.extend(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers)
        head.append(
            b"content-type: %s\r\ncontent-length: %d\r\nx-request-id: %s\r\nconnection: close\r\n\r\n"
            % (PROBLEM_JSON.encode(), len(body), request_id.encode())
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        return request_id
