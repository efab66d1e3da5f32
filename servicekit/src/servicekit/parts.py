"""The one way code serving a request reaches the service's parts (its database, its downloads, its token
validator, its lifecycle): `current(Database)` in a view, `Parts.of(request.scope)` in a security hook.

The parts travel in the lifespan state, which the server copies into every request's scope, so they
belong to one app (tests build many side by side) and are reachable on the event loop and in Flask's
threads alike, with nothing stored in a global.
"""

from __future__ import annotations

from typing import TypeVar

import connexion.context
from starlette.types import Scope

__all__ = ["current"]

STATE_KEY = "servicekit.parts"

Part = TypeVar("Part")


class Parts:
    """One object of each kind, looked up by its class or one of its bases."""

    def __init__(self, *parts: object) -> None:
        self._parts: list[object] = []
        for part in parts:
            self.add(part)

    def add(self, part: object) -> None:
        if self.find(type(part)) is not None:
            raise ValueError(f"the service already has a {type(part).__name__}")
        self._parts.append(part)

    def get(self, kind: type[Part]) -> Part:
        part = self.find(kind)
        if part is None:
            raise LookupError(f"the service has no {kind.__name__}")
        return part

    def find(self, kind: type[Part]) -> Part | None:
        """The part of this kind, or None for a service without one (no database, no APM)."""
        return next((part for part in self._parts if isinstance(part, kind)), None)

    @staticmethod
    def of(scope: Scope) -> Parts:
        """The parts of the app serving the request whose ASGI scope this is."""
        parts: Parts = scope["state"][STATE_KEY]
        return parts


def current(kind: type[Part]) -> Part:
    """The service's part of this kind, for the request being served (call it in a view)."""
    return Parts.of(connexion.context.scope).get(kind)
