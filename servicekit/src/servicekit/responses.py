"""Responses a view returns that say more than their body."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import flask


def created(body: Any, *location: str | int) -> tuple[Any, int, dict[str, str]]:
    """201 Created: `body` as JSON, and `Location` the new resource's URL, this request's path followed by
    the `location` segments, each percent-encoded. Answering `POST /notices`,
    `created(notice, notice["id"])` gives `Location: /notices/7`."""
    segments = "/".join(quote(str(segment), safe="") for segment in location)
    path = f"{flask.request.script_root}{flask.request.path}".rstrip("/")
    return body, 201, {"Location": f"{path}/{segments}"}
