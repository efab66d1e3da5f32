"""A response is sent as the view produces it, not once the whole body exists: the client holds the first
part while the view is provably still waiting to produce the rest, on a gate only the test opens."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import flask
import httpx
import pytest

from servicekit.testing import LiveServer
from tests.fixture_service import FixtureSettings, create_app, views


def test_the_client_has_the_first_part_before_the_view_has_made_the_rest(
    settings: FixtureSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, finished = threading.Event(), threading.Event()

    def gated_trickle() -> flask.Response:
        def parts() -> Iterator[bytes]:
            yield b"first part\n"
            if not gate.wait(timeout=5):  # only a client that got the first part opens the gate
                yield b"the gate was never opened\n"
            yield b"the rest\n"
            finished.set()

        return flask.Response(parts(), mimetype="text/csv")

    monkeypatch.setattr(views, "trickle", gated_trickle)  # read when the app's routes are resolved
    with LiveServer(create_app(settings), settings) as server:
        plain = {"Accept-Encoding": "identity"}
        with httpx.stream("GET", f"{server.url}/trickle", headers=plain, timeout=10) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()
            first = next(chunks)
            assert first == b"first part\n"
            assert not finished.is_set()  # the view is still producing
            gate.set()
            rest = b"".join(chunks)
    assert rest == b"the rest\n"
    assert finished.is_set()
