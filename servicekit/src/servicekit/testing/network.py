"""Peers that misbehave on loopback: a database that refuses or never answers, a client that reads slowly."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx


@contextmanager
def socket_that_refuses() -> Iterator[int]:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    yield port


@contextmanager
def socket_that_never_answers() -> Iterator[int]:
    """A loopback port that accepts connections and then says nothing, like a hung database."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:
        yield silent.getsockname()[1]


def slow_reader(**options: Any) -> httpx.Client:
    """A client with a small, fixed receive buffer: the kernel's autotuning would otherwise take in
    tens of megabytes unread, and the server would finish a download nobody is reading."""
    transport = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)])
    return httpx.Client(transport=transport, timeout=60, **options)
