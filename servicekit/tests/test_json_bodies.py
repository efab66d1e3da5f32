"""JSON bodies come from orjson: compact, and exact for the types the domain uses."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import flask
import orjson
import pytest
from starlette.testclient import TestClient

from servicekit.json_bodies import jsonifier, use_orjson


def test_view_results_are_compact_orjson(client: TestClient) -> None:
    body = client.get("/big").content
    assert body.startswith(b'{"rows":[{"uprn":0,"town":"Llanfair Caereinion","segment":"S1"},')
    assert orjson.loads(body)["rows"][999]["uprn"] == 999


def test_domain_types_encode_exactly() -> None:
    value = {
        "when": dt.date(2026, 1, 31),
        "id": uuid.UUID(int=1),
        "price": decimal.Decimal("0.10"),
        "segments": {"S2", "S1"},
        3: "non-string key",
    }
    assert orjson.loads(jsonifier().dumps(value)) == {
        "when": "2026-01-31",
        "id": "00000000-0000-0000-0000-000000000001",
        "price": "0.10",
        "segments": ["S1", "S2"],
        "3": "non-string key",
    }


def test_flask_uses_orjson_and_refuses_the_unknown() -> None:
    flask_app = flask.Flask(__name__)
    use_orjson(flask_app)
    assert flask_app.json.dumps({"a": dt.date(2026, 1, 1)}) == '{"a":"2026-01-01"}'
    with pytest.raises(TypeError):
        flask_app.json.dumps({"a": object()})
