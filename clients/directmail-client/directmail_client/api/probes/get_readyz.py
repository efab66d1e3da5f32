from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.readiness import Readiness
from ...types import Response


def _get_kwargs() -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/readyz",
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | Readiness | None:
    if response.status_code == 200:
        response_200 = Readiness.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 405:
        response_405 = Problem.from_dict(response.json())

        return response_405

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 414:
        response_414 = Problem.from_dict(response.json())

        return response_414

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | Readiness]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
) -> Response[Problem | Readiness]:
    """Readiness

     The pod can take traffic: shutdown has not begun, and each database it could ask is migrated to
    the version it needs. Otherwise 503, whose detail says which. A database that is down or does not
    answer within the timeout leaves the pod ready (every pod sees the same outage, and the requests
    that need it get a 503 with Retry-After of their own): the body says which (`database`,
    `read_replica`). Answered before routing and security: no token needed. It also says when the
    communities were last synced from Salesforce (never failing for it: exports go on from the copy).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Readiness]
    """

    kwargs = _get_kwargs()

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
) -> Problem | Readiness | None:
    """Readiness

     The pod can take traffic: shutdown has not begun, and each database it could ask is migrated to
    the version it needs. Otherwise 503, whose detail says which. A database that is down or does not
    answer within the timeout leaves the pod ready (every pod sees the same outage, and the requests
    that need it get a 503 with Retry-After of their own): the body says which (`database`,
    `read_replica`). Answered before routing and security: no token needed. It also says when the
    communities were last synced from Salesforce (never failing for it: exports go on from the copy).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Readiness
    """

    return sync_detailed(
        client=client,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
) -> Response[Problem | Readiness]:
    """Readiness

     The pod can take traffic: shutdown has not begun, and each database it could ask is migrated to
    the version it needs. Otherwise 503, whose detail says which. A database that is down or does not
    answer within the timeout leaves the pod ready (every pod sees the same outage, and the requests
    that need it get a 503 with Retry-After of their own): the body says which (`database`,
    `read_replica`). Answered before routing and security: no token needed. It also says when the
    communities were last synced from Salesforce (never failing for it: exports go on from the copy).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Readiness]
    """

    kwargs = _get_kwargs()

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
) -> Problem | Readiness | None:
    """Readiness

     The pod can take traffic: shutdown has not begun, and each database it could ask is migrated to
    the version it needs. Otherwise 503, whose detail says which. A database that is down or does not
    answer within the timeout leaves the pod ready (every pod sees the same outage, and the requests
    that need it get a 503 with Retry-After of their own): the body says which (`database`,
    `read_replica`). Answered before routing and security: no token needed. It also says when the
    communities were last synced from Salesforce (never failing for it: exports go on from the copy).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Readiness
    """

    return (
        await asyncio_detailed(
            client=client,
        )
    ).parsed
