"""Which permissions an operation's security requirements ask of a token."""

from __future__ import annotations

from servicekit.auth.permissions import permission_sets
from servicekit.middleware.routes import RoutedOperation

SCHEMES = {"entra": {"type": "oauth2"}, "partner": {"type": "oauth2"}, "bearer": {"type": "http"}}


def sets_for(*security: dict[str, list[str]]) -> list[frozenset[str]]:
    return permission_sets(RoutedOperation("/orders", list(security), SCHEMES))


def test_alternatives_each_ask_for_their_own_scopes() -> None:
    assert sets_for({"entra": ["api://x/Orders.Read"]}, {"bearer": []}) == [frozenset({"Orders.Read"})]


def test_schemes_of_one_requirement_add_their_scopes_up() -> None:
    both = sets_for({"entra": ["api://x/Orders.Read"], "partner": ["api://y/Partner.Link"]})
    assert both == [frozenset({"Orders.Read", "Partner.Link"})]


def test_an_operation_without_oauth2_asks_only_for_a_valid_token() -> None:
    assert sets_for({"bearer": []}) == []
    assert sets_for({"entra": []}) == [frozenset()]
