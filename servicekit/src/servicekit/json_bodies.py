"""orjson for every JSON body: Flask's JSON provider and the jsonifier Connexion uses for view results."""

from __future__ import annotations

import decimal
from typing import Any

import flask
import orjson
from connexion.jsonifier import Jsonifier
from flask.json.provider import JSONProvider

_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    """What orjson does not encode natively: decimals as strings (no float rounding), sets as lists."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any, **_ignored: Any) -> str:
    """orjson encoding with the json module's signature (Connexion passes `cls=` and the like)."""
    return orjson.dumps(value, default=_default, option=_OPTIONS).decode()


class OrjsonProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps(obj)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


class _OrjsonModule:
    """The json-module shape that Connexion's Jsonifier expects."""

    dumps = staticmethod(dumps)
    loads = staticmethod(orjson.loads)


def use_orjson(flask_app: flask.Flask) -> None:
    flask_app.json = OrjsonProvider(flask_app)


def jsonifier() -> Jsonifier:
    return Jsonifier(_OrjsonModule)
