"""Responses a view returns that say more than their body."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import flask

__all__ = ["created"]


def created(body: Any, *location: str | int) -> flask.Response:
    """201 Created: `body` as JSON, and `Location` the new resource's URL, this request's path followed by
    the `location` segments, each percent-encoded. Answering `POST /notices`,
    `created(notice, notice["id"])` gives `Location: /notices/7`.

    A response, not a `(body, status, headers)` tuple: Connexion cannot serialize a tuple's body for an
    operation whose responses declare more than one media type (JSON, and problem+json for its errors)."""
    segments = "/".join(quote(str(segment), safe="") for segment in location)
    path = f"{flask.request.script_root}{flask.request.path}".rstrip("/")
    response = flask.jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"{path}/{segments}"
    return response
