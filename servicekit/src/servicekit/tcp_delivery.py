"""What a client has received of a response: the bytes its TCP acknowledged, read from the kernel.

What the server hands to the network is not what the client received: the kernel's send buffer, the
network and the client's receive buffer hold megabytes between them, so a client that hung up after 300
bytes can have been handed 4 MB. Linux keeps, for each connection, how many bytes the peer acknowledged
(TCP_INFO's `tcpi_bytes_acked`): a bound on what reached the client's machine that no buffer of ours
inflates. The HTTP server (`servicekit.http_limits`) puts a `TcpDelivery` in each request's scope; a
download reads it as it starts and as it ends. Elsewhere (another OS, an in-process test client) there
is none, and what was handed over is all that can be said.
"""

from __future__ import annotations

import socket
import struct

from starlette.types import Scope

SCOPE_KEY = "servicekit.tcp_delivery"
# struct tcp_info (linux/tcp.h): 8 bytes of u8 fields, 24 u32 fields, then u64 pacing_rate and
# max_pacing_rate; tcpi_bytes_acked follows them (Linux 4.1 and later).
_BYTES_ACKED = struct.Struct("=Q")
_BYTES_ACKED_OFFSET = 120
_TCP_INFO_LENGTH = _BYTES_ACKED_OFFSET + _BYTES_ACKED.size
# tcpi_state, its first byte: TCP_CLOSE once the peer has reset the connection.
_TCP_CLOSE = 7


class TcpDelivery:
    """A connection's count of bytes acknowledged by the client, kept once the connection is lost."""

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self._final: int | None = None
        self._lost = False

    def acknowledged(self) -> int | None:
        """Bytes the client's TCP has acknowledged on this connection so far; None where the kernel
        cannot say."""
        return self._final if self._lost else bytes_acknowledged(self._socket)

    def reset_by_client(self) -> bool:
        """Whether the client has reset the connection; False where the kernel cannot say. After a FIN, the
        one way to tell a client that closed its socket from one that only stopped sending: a closed socket
        answers the next bytes sent with a reset."""
        tcp_info = getattr(socket, "TCP_INFO", None)
        if self._lost or tcp_info is None:
            return self._lost
        try:
            return self._socket.getsockopt(socket.IPPROTO_TCP, tcp_info, 1)[0] == _TCP_CLOSE
        except OSError:
            return False

    def connection_lost(self) -> None:
        """Called before the socket closes: its last count is kept."""
        self._final = bytes_acknowledged(self._socket)
        self._lost = True


def bytes_acknowledged(sock: socket.socket) -> int | None:
    tcp_info = getattr(socket, "TCP_INFO", None)
    if tcp_info is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, tcp_info, _TCP_INFO_LENGTH)
    except OSError:  # closed already, or not TCP
        return None
    if len(info) < _TCP_INFO_LENGTH:
        return None
    acknowledged: int = _BYTES_ACKED.unpack_from(info, _BYTES_ACKED_OFFSET)[0]
    return acknowledged


def tcp_delivery(scope: Scope) -> TcpDelivery | None:
    """The delivery count of the connection a request came on, where the server keeps one."""
    delivery: TcpDelivery | None = scope.get(SCOPE_KEY)
    return delivery
