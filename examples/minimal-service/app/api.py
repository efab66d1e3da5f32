"""The views `api-spec.yml` names: each takes its operation's parameters by name.

They answer with Flask responses (`flask.jsonify`): an operation that declares problem+json errors
beside its JSON has two media types, and Connexion will not pick one for a bare dict.
"""

from __future__ import annotations

from typing import Any

import flask

from servicekit.auth.tokens import Caller

GREETINGS = {"en": "Hello", "cy": "Shwmae"}


def get_hello(token_info: dict[str, Any], language: str = "en") -> flask.Response:
    caller: Caller = token_info["caller"]
    return flask.jsonify(message=f"{GREETINGS[language]}, {caller.name or caller.object_id}")
