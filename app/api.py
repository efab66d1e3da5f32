"""The views `api-spec.yml` names: thin, each hands over to the domain code and returns its result."""

from __future__ import annotations

from typing import Any

import flask

from app.auth.tokens import Caller

# Views answer with flask.jsonify: Connexion cannot pick one media type by itself for an operation
# whose errors are declared as application/problem+json.


def get_me(token_info: dict[str, Any]) -> flask.Response:
    caller: Caller = token_info["caller"]
    return flask.jsonify(
        object_id=caller.object_id,
        app_id=caller.app_id,
        name=caller.name,
        roles=sorted(caller.roles),
        scopes=sorted(caller.scopes),
    )
