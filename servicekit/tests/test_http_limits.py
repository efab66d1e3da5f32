"""The request head's limits, over a real uvicorn on loopback with raw sockets: an oversized URL or header
section is refused as soon as the excess arrives, without the server reading (or holding) the rest; a
head that does not arrive in time is answered 408; bytes that begin no request are closed on within the
head timeout; what llhttp cannot parse gets 400, and a failure of the server's own a 500 logged as an
error; requests within the limits, kept-alive connections, half-closed ones, request bodies and streamed
responses are untouched."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from servicekit.http_limits import HeadLimitedProtocol
from servicekit.testing import LiveServer, LoggedServer, ServiceProcess, environment_without
from tests.fixture_service import FixtureSettings, create_app

pytestmark = pytest.mark.slow

HEAD_TIMEOUT = 0.5
MiB = 1 << 20
CHUNK = b"a" * 65536
KIT_ROOT = Path(__file__).parents[1]
Address = tuple[str, int]


@pytest.fixture(scope="module")
def server(make_settings: Callable[..., FixtureSettings]) -> Iterator[LiveServer]:
    settings = make_settings(request_head_timeout_seconds=HEAD_TIMEOUT)
    with LiveServer(create_app(settings), settings) as live:
        yield live


@pytest.fixture(scope="module")
def address(server: LiveServer) -> Address:
    return address_of(server.url)


@dataclass
class Exchange:
    """One connection's worth: what the client got to send and what came back before the server closed."""

    sent: int = 0
    response: bytes = b""
    started: float = field(default_factory=time.monotonic)
    answered_after: float | None = None  # seconds from the first byte sent to the first byte back

    @property
    def status(self) -> int:
        assert self.response, "the server answered nothing"
        return int(self.response.split(b" ", 2)[1])

    @property
    def headers(self) -> dict[str, str]:
        lines = self.response.partition(b"\r\n\r\n")[0].decode().split("\r\n")[1:]
        return {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}

    def problem(self) -> Any:
        assert self.headers["content-type"] == "application/problem+json"
        assert self.headers["connection"] == "close"
        problem = json.loads(self.response.partition(b"\r\n\r\n")[2])
        assert problem.pop("request_id") == self.headers["x-request-id"]  # one to quote, as for every answer
        return problem


def address_of(url: str) -> Address:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def exchange(address: Address, head: bytes, filler_bytes: int = 0, tail: bytes = b"") -> Exchange:
    """Send `head`, then `filler_bytes` of "a", then `tail`, reading whatever the server answers meanwhile,
    until it closes the connection. A server that stops reading makes the sending end early."""
    with socket.create_connection(address) as connection:
        connection.settimeout(10)
        done = Exchange()
        reader = threading.Thread(target=read_until_closed, args=(connection, done))
        reader.start()
        try:
            connection.sendall(head)
            done.sent = len(head)
            while done.sent - len(head) < filler_bytes:
                connection.sendall(CHUNK)
                done.sent += len(CHUNK)
            connection.sendall(tail)
            done.sent += len(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reader.join()
    return done


def read_until_closed(connection: socket.socket, into: Exchange) -> None:
    try:
        while data := connection.recv(65536):
            if into.answered_after is None:
                into.answered_after = time.monotonic() - into.started
            into.response += data
    except ConnectionResetError:
        pass  # the answer was read first: a reset only ends what follows it
    except TimeoutError:
        pass  # a server that never closes: the test's assertions say what was missing


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_a_1_mib_header_is_refused_431_at_once(address: Address) -> None:
    done = exchange(address, b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: ", MiB, b"\r\n\r\n")

    assert done.status == 431
    assert done.problem() == {
        "type": "about:blank",
        "title": "Request Header Fields Too Large",
        "status": 431,
        "detail": "The request's headers are too large: the limit is 16384 bytes.",
    }
    assert done.answered_after is not None
    assert done.answered_after < 2


def test_headers_up_to_the_limits_are_served(address: Address) -> None:
    # 100 headers (with Host and Accept-Encoding) of about 16 KiB in all: just inside both limits.
    headers = {f"X-Header-{number:02}": "v" * 145 for number in range(98)}
    with closing(http.client.HTTPConnection(*address, timeout=10)) as connection:
        connection.request("GET", "/healthz", headers=headers)
        assert connection.getresponse().status == 200


def test_more_headers_than_max_headers_get_431(address: Address) -> None:
    headers = b"".join(b"X-Header-%d: v\r\n" % number for number in range(100))
    done = exchange(address, b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + headers + b"\r\n")

    assert done.status == 431
    assert done.problem()["detail"] == "The request has too many headers: the limit is 100."


def test_an_over_long_request_line_gets_414_without_being_read(address: Address) -> None:
    done = exchange(address, b"GET /healthz?q=", 64 * MiB, b" HTTP/1.1\r\nHost: test\r\n\r\n")

    assert done.status == 414
    assert done.problem()["detail"] == "The URL is too long: the limit is 8192 bytes."
    assert done.answered_after is not None
    assert done.answered_after < 2
    assert done.sent < 64 * MiB  # the server closed the connection long before


def test_bad_bytes_in_the_request_line_get_400_at_once(address: Address) -> None:
    done = exchange(address, b"GET /health\x00z HTTP/1.1\r\nHost: test\r\n\r\n")

    assert done.status == 400
    assert done.problem() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "The request is not valid HTTP: Invalid char in url path.",
    }


def test_an_incomplete_head_gets_408_after_the_timeout(address: Address) -> None:
    done = exchange(address, b"GET /healthz HTTP/1.1\r\n")

    assert done.status == 408
    assert done.problem()["detail"] == "The request's head took too long to arrive: the limit is 0.5 s."
    assert done.answered_after is not None
    assert HEAD_TIMEOUT - 0.1 < done.answered_after < 5


def test_a_head_trickling_in_is_cut_off_at_the_timeout(address: Address) -> None:
    with socket.create_connection(address) as connection:
        connection.settimeout(10)
        started = time.monotonic()
        try:
            for byte in b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: " + b"a" * 1000:
                connection.sendall(bytes([byte]))
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = connection.recv(65536)
    assert response.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 5


def test_a_connection_that_sends_nothing_is_closed(address: Address) -> None:
    with socket.create_connection(address) as connection:
        connection.settimeout(10)
        started = time.monotonic()
        assert connection.recv(65536) == b""
    assert time.monotonic() - started < 5


def test_line_ends_after_a_request_do_not_hold_the_connection_open(address: Address) -> None:
    # llhttp skips a CRLF between requests without beginning one; each also stopped uvicorn's keep-alive
    # timeout, so a connection kept open for ever by a CRLF a second.
    with socket.create_connection(address) as connection:
        connection.settimeout(10)
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            send_line_ends_for(connection, seconds=10)
        assert time.monotonic() - started < HEAD_TIMEOUT + 1


def send_line_ends_for(connection: socket.socket, seconds: float) -> None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        connection.sendall(b"\r\n")
        time.sleep(0.1)


def test_a_client_that_half_closes_after_its_request_gets_the_whole_response(address: Address) -> None:
    # /trickle streams its lines for longer than the head timeout.
    with socket.create_connection(address) as connection:
        connection.settimeout(10)
        connection.sendall(b"GET /trickle HTTP/1.1\r\nHost: test\r\n\r\n")
        connection.shutdown(socket.SHUT_WR)
        done = Exchange()
        read_until_closed(connection, done)

    # Told apart from a hang-up by an interim response, which an HTTP/1.1 client reads past.
    assert done.response.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    done.response = done.response.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert done.status == 200
    head, _, body = done.response.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert body.endswith(b"0\r\n\r\n")  # the last chunk: complete, then closed
    assert all(f"line {number}\n".encode() in body for number in range(5))


def test_a_half_close_in_the_middle_of_a_head_ends_the_connection(address: Address) -> None:
    with socket.create_connection(address) as connection:
        connection.settimeout(10)
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: te")
        connection.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        assert connection.recv(65536) == b""
    assert time.monotonic() - started < HEAD_TIMEOUT


def test_a_url_uvicorn_cannot_parse_gets_400(address: Address) -> None:
    done = exchange(address, b"GET http://test:99999/healthz HTTP/1.1\r\nHost: test\r\n\r\n")

    assert done.status == 400
    assert done.problem()["detail"] == "The request's URL is not valid."


class FailingProtocol(HeadLimitedProtocol):
    """The server's own code failing as it reads a head: a bug, or uvicorn changed under it."""

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"x-fail":
            raise KeyError("a bug")
        super().on_header(name, value)


def test_a_failure_reading_a_head_is_a_500_logged_as_an_error(
    make_settings: Callable[..., FixtureSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    live = LiveServer(create_app(settings), settings)
    live.server.config.http = FailingProtocol
    with live:
        done = exchange(address_of(live.url), b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Fail: 1\r\n\r\n")
        logged = LoggedServer(live.url, capsys).logged()

    assert done.status == 500
    assert (
        done.problem()["detail"] == "The service failed to handle this request; quote the request id when reporting it."
    )
    [failure] = [line for line in logged if line["message"] == "request failed"]
    assert failure["log.level"] == "error"
    assert failure["http"]["request"]["id"] == done.headers["x-request-id"]
    assert failure["error"]["stack_trace"].endswith("KeyError: 'a bug'")


def test_a_kept_alive_connection_serves_its_next_request_after_an_idle_spell(address: Address) -> None:
    with closing(http.client.HTTPConnection(*address, timeout=10)) as connection:
        connection.request("GET", "/healthz")
        assert connection.getresponse().read()
        kept = connection.sock

        time.sleep(HEAD_TIMEOUT * 2)  # idle between requests: uvicorn's keep-alive timeout, not the head's
        connection.request("GET", "/healthz", headers={"X-Big": "a" * 12_000})
        assert connection.getresponse().status == 200
        assert connection.sock is kept


def test_a_body_sent_slowly_is_neither_head_bytes_nor_late(address: Address, auth_headers: Any) -> None:
    body = json.dumps({"not-body": "x" * 300_000}).encode()
    token = auth_headers()["Authorization"]
    head = (
        f"POST /notes HTTP/1.1\r\nHost: test\r\nAuthorization: {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(address) as connection:
        connection.settimeout(10)
        connection.sendall(head)
        for start in range(0, len(body), 10_000):  # 30 pieces over about 1.5 s: past the head timeout
            connection.sendall(body[start : start + 10_000])
            time.sleep(0.05)
        done = Exchange()
        read_until_closed(connection, done)

    assert done.status == 400
    assert "'body' is a required property" in done.problem()["detail"]


def test_a_streamed_response_outlasts_the_head_timeout(server: LiveServer) -> None:
    with httpx.stream("GET", f"{server.url}/trickle", timeout=10) as response:
        lines = list(response.iter_lines())
    assert lines == [f"line {number}" for number in range(5)]


@pytest.fixture
def service(database_url: str) -> Iterator[ServiceProcess]:
    env = environment_without("ELASTIC_APM_") | {"ENVIRONMENT": "test", "DATABASE_URL": database_url}
    process = ServiceProcess([sys.executable, "-m", "tests.fixture_service", "serve"], cwd=KIT_ROOT, env=env)
    try:
        yield process.wait_until_live()
    finally:
        process.kill()


def test_six_64_mib_headers_at_once_leave_the_server_s_memory_where_it_was(service: ServiceProcess) -> None:
    address = address_of(service.url)
    head = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: "
    exchange(address, head, MiB)  # whatever a first refusal allocates once
    before = rss_mib(service.process.pid)

    exchanges: list[Exchange] = []
    senders = [
        threading.Thread(target=lambda: exchanges.append(exchange(address, head, 64 * MiB, b"\r\n\r\n")))
        for _ in range(6)
    ]
    started = time.monotonic()
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()

    assert time.monotonic() - started < 10
    assert [done.status for done in exchanges] == [431] * 6
    assert all(done.sent < 64 * MiB for done in exchanges)
    assert rss_mib(service.process.pid) - before < 8
