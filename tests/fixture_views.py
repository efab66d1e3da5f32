"""Views of tests/fixture_api.yml."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import flask
import httpx

INTERNAL_DETAIL = "KeyError in premises_query at line 42"


def slow(seconds: float) -> dict[str, Any]:
    time.sleep(seconds)
    return {"slept": seconds}


def failure() -> dict[str, Any]:
    raise RuntimeError(INTERNAL_DETAIL)


def trickle() -> flask.Response:
    def lines() -> Iterator[bytes]:
        for number in range(5):
            time.sleep(0.2)
            yield f"line {number}\n".encode()

    return flask.Response(lines(), mimetype="text/csv")


def outbound(url: str) -> dict[str, Any]:
    return {"status": httpx.get(url, timeout=5).status_code}


def big() -> dict[str, Any]:
    return {"rows": [{"uprn": n, "town": "Llanfair Caereinion", "segment": "S1"} for n in range(1000)]}
