"""The link tests put between a service and its database: what one end does, the other end hears of."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from servicekit.testing import SwitchableLink


@contextmanager
def linked_pair() -> Iterator[tuple[SwitchableLink, socket.socket, socket.socket]]:
    """A link to a listening socket, a client connected through it, and the target's end of that connection."""
    with socket.create_server(("127.0.0.1", 0)) as target:
        link = SwitchableLink("127.0.0.1", target.getsockname()[1])
        try:
            with socket.create_connection(("127.0.0.1", link.port), timeout=5) as client:
                target_end, _ = target.accept()
                with target_end:
                    yield link, client, target_end
        finally:
            link.close()


def test_the_target_hanging_up_reaches_the_client_through_the_link() -> None:
    with linked_pair() as (_link, client, target_end):
        target_end.close()
        assert client.recv(1) == b""  # the end of the stream, not a wait until the timeout


def test_cutting_the_link_ends_the_connections_through_it_at_both_ends() -> None:
    with linked_pair() as (link, client, target_end):
        link.cut()
        assert client.recv(1) == b""
        target_end.settimeout(5)
        assert target_end.recv(1) == b""
