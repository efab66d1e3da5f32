"""Peers that misbehave on loopback: a database that refuses, never answers or is lost and comes back, a
client that reads slowly."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


class SwitchableLink:
    """A TCP link on loopback to `host:port` that a test can cut, hang and restore, like a database lost to
    a failover and back: cut closes every connection through it and drops new ones until restored; hang
    forwards nothing more either way and closes nothing, as a database host that stops answering does
    (its kernel still accepts connections and acknowledges what is sent), until restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.up = True
        self._flowing = threading.Event()
        self._flowing.set()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self.up = False
            for connection in self._open:
                _end(connection)
            self._open.clear()
        self._flowing.set()  # what a hang held back now meets closed sockets

    def hang(self) -> None:
        self._flowing.clear()

    def restore(self) -> None:
        self.up = True
        self._flowing.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self._lock:
                if not self.up:  # cut while this connection was being made
                    _end(client)
                    _end(server)
                    continue
                self._open |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass  # the link was cut
        finally:
            _end(source)
            _end(sink)


def _end(connection: socket.socket) -> None:
    """Closes `connection` so that both sides hear of it. close() alone neither wakes the other pump's recv()
    on the same socket nor sends the peer its FIN while that recv() holds it: psycopg then waited forever
    for the answer to a rollback, and the test process could not exit."""
    with suppress(OSError):  # already shut down by the other pump
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
