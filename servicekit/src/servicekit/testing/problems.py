"""What every error answer of a service must be: RFC 9457 problem+json carrying the request id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Response(Protocol):
    """httpx's, or the test client's."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def assert_problem(response: Response, status: int, *, retry_after: str | None = None) -> dict[str, Any]:
    """Asserts `response` is a problem with `status` (and `Retry-After`, when given); returns its body."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    if retry_after is not None:
        assert response.headers["retry-after"] == retry_after
    return body
