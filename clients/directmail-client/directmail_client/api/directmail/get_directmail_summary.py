import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.mailing_summary import MailingSummary
from ...models.problem import Problem
from ...models.segment import Segment
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    communities: list[str] | Unset = UNSET,
    rfs: bool | Unset = UNSET,
    rfs_date_before: datetime.date | Unset = UNSET,
    rfs_date_after: datetime.date | Unset = UNSET,
    business: bool | Unset = UNSET,
    bduk: bool | Unset = UNSET,
    segments: list[Segment] | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_communities: list[str] | Unset = UNSET
    if not isinstance(communities, Unset):
        json_communities = communities

    params["communities"] = json_communities

    params["rfs"] = rfs

    json_rfs_date_before: str | Unset = UNSET
    if not isinstance(rfs_date_before, Unset):
        json_rfs_date_before = rfs_date_before.isoformat()
    params["rfs_date_before"] = json_rfs_date_before

    json_rfs_date_after: str | Unset = UNSET
    if not isinstance(rfs_date_after, Unset):
        json_rfs_date_after = rfs_date_after.isoformat()
    params["rfs_date_after"] = json_rfs_date_after

    params["business"] = business

    params["bduk"] = bduk

    json_segments: list[str] | Unset = UNSET
    if not isinstance(segments, Unset):
        json_segments = []
        for segments_item_data in segments:
            segments_item: str = segments_item_data
            json_segments.append(segments_item)

    params["segments"] = json_segments

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/directmail-summary",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> MailingSummary | Problem | None:
    if response.status_code == 200:
        response_200 = MailingSummary.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

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

    if response.status_code == 504:
        response_504 = Problem.from_dict(response.json())

        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[MailingSummary | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    communities: list[str] | Unset = UNSET,
    rfs: bool | Unset = UNSET,
    rfs_date_before: datetime.date | Unset = UNSET,
    rfs_date_after: datetime.date | Unset = UNSET,
    business: bool | Unset = UNSET,
    bduk: bool | Unset = UNSET,
    segments: list[Segment] | Unset = UNSET,
) -> Response[MailingSummary | Problem]:
    """Preview a mailing list

     How many premises the CSV with the same filters would hold, per community and in total.

    Args:
        communities (list[str] | Unset):
        rfs (bool | Unset):
        rfs_date_before (datetime.date | Unset):
        rfs_date_after (datetime.date | Unset):
        business (bool | Unset):
        bduk (bool | Unset):
        segments (list[Segment] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MailingSummary | Problem]
    """

    kwargs = _get_kwargs(
        communities=communities,
        rfs=rfs,
        rfs_date_before=rfs_date_before,
        rfs_date_after=rfs_date_after,
        business=business,
        bduk=bduk,
        segments=segments,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    communities: list[str] | Unset = UNSET,
    rfs: bool | Unset = UNSET,
    rfs_date_before: datetime.date | Unset = UNSET,
    rfs_date_after: datetime.date | Unset = UNSET,
    business: bool | Unset = UNSET,
    bduk: bool | Unset = UNSET,
    segments: list[Segment] | Unset = UNSET,
) -> MailingSummary | Problem | None:
    """Preview a mailing list

     How many premises the CSV with the same filters would hold, per community and in total.

    Args:
        communities (list[str] | Unset):
        rfs (bool | Unset):
        rfs_date_before (datetime.date | Unset):
        rfs_date_after (datetime.date | Unset):
        business (bool | Unset):
        bduk (bool | Unset):
        segments (list[Segment] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MailingSummary | Problem
    """

    return sync_detailed(
        client=client,
        communities=communities,
        rfs=rfs,
        rfs_date_before=rfs_date_before,
        rfs_date_after=rfs_date_after,
        business=business,
        bduk=bduk,
        segments=segments,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    communities: list[str] | Unset = UNSET,
    rfs: bool | Unset = UNSET,
    rfs_date_before: datetime.date | Unset = UNSET,
    rfs_date_after: datetime.date | Unset = UNSET,
    business: bool | Unset = UNSET,
    bduk: bool | Unset = UNSET,
    segments: list[Segment] | Unset = UNSET,
) -> Response[MailingSummary | Problem]:
    """Preview a mailing list

     How many premises the CSV with the same filters would hold, per community and in total.

    Args:
        communities (list[str] | Unset):
        rfs (bool | Unset):
        rfs_date_before (datetime.date | Unset):
        rfs_date_after (datetime.date | Unset):
        business (bool | Unset):
        bduk (bool | Unset):
        segments (list[Segment] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MailingSummary | Problem]
    """

    kwargs = _get_kwargs(
        communities=communities,
        rfs=rfs,
        rfs_date_before=rfs_date_before,
        rfs_date_after=rfs_date_after,
        business=business,
        bduk=bduk,
        segments=segments,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    communities: list[str] | Unset = UNSET,
    rfs: bool | Unset = UNSET,
    rfs_date_before: datetime.date | Unset = UNSET,
    rfs_date_after: datetime.date | Unset = UNSET,
    business: bool | Unset = UNSET,
    bduk: bool | Unset = UNSET,
    segments: list[Segment] | Unset = UNSET,
) -> MailingSummary | Problem | None:
    """Preview a mailing list

     How many premises the CSV with the same filters would hold, per community and in total.

    Args:
        communities (list[str] | Unset):
        rfs (bool | Unset):
        rfs_date_before (datetime.date | Unset):
        rfs_date_after (datetime.date | Unset):
        business (bool | Unset):
        bduk (bool | Unset):
        segments (list[Segment] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MailingSummary | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            communities=communities,
            rfs=rfs,
            rfs_date_before=rfs_date_before,
            rfs_date_after=rfs_date_after,
            business=business,
            bduk=bduk,
            segments=segments,
        )
    ).parsed
