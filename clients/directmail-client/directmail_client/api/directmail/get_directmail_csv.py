import datetime
import email.message
import mimetypes
import os
import tempfile
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import IO, Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.segment import Segment
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    *,
    communities: list[str] | Unset = UNSET,
    rfs: bool | Unset = UNSET,
    rfs_date_before: datetime.date | Unset = UNSET,
    rfs_date_after: datetime.date | Unset = UNSET,
    business: bool | Unset = UNSET,
    bduk: bool | Unset = UNSET,
    segments: list[Segment] | Unset = UNSET,
    bom: bool | Unset = False,
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

    params["bom"] = bom

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/directmail-csv",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> File | Problem | None:
    if response.status_code == 200:
        response_200 = File(payload=BytesIO(response.content))

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[File | Problem]:
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
    bom: bool | Unset = False,
) -> Response[File | Problem]:
    """Download a mailing list as CSV

     The premises matching every filter given, as a CSV file to download. A filter left out does not
    filter. The file is `text/csv; charset=utf-8` with a header row and these columns, in this order:

    `uprn, address_line_1, address_line_2, address_line_3, town, postcode, community, rfs, rfs_date,
    business, bduk, segment`

    Rows are sorted by community, postcode and UPRN; booleans are `true`/`false`, dates `YYYY-MM-DD`,
    a missing value is an empty cell. Values are quoted as RFC 4180 says (lines end in LF). A cell that
    a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
    gets a leading `'`, so it shows as text. Open in Excel with `bom=true` so that Welsh and other
    accented names show correctly.

    It comes as `text/csv`, or as `application/octet-stream` to a client whose `Accept` prefers that.
    The download streams as the database produces it, its first bytes at once, compressed with zstd,
    brotli or gzip if the client's `Accept-Encoding` accepts one (`curl --compressed` does); a transfer
    that breaks off midway is a failed download, never a complete short file. At most a few downloads
    run at once: past that the answer is 503 with `Retry-After`.

    Args:
        communities (list[str] | Unset):
        rfs (bool | Unset):
        rfs_date_before (datetime.date | Unset):
        rfs_date_after (datetime.date | Unset):
        business (bool | Unset):
        bduk (bool | Unset):
        segments (list[Segment] | Unset):
        bom (bool | Unset):  Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[File | Problem]
    """

    kwargs = _get_kwargs(
        communities=communities,
        rfs=rfs,
        rfs_date_before=rfs_date_before,
        rfs_date_after=rfs_date_after,
        business=business,
        bduk=bduk,
        segments=segments,
        bom=bom,
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
    bom: bool | Unset = False,
) -> File | Problem | None:
    """Download a mailing list as CSV

     The premises matching every filter given, as a CSV file to download. A filter left out does not
    filter. The file is `text/csv; charset=utf-8` with a header row and these columns, in this order:

    `uprn, address_line_1, address_line_2, address_line_3, town, postcode, community, rfs, rfs_date,
    business, bduk, segment`

    Rows are sorted by community, postcode and UPRN; booleans are `true`/`false`, dates `YYYY-MM-DD`,
    a missing value is an empty cell. Values are quoted as RFC 4180 says (lines end in LF). A cell that
    a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
    gets a leading `'`, so it shows as text. Open in Excel with `bom=true` so that Welsh and other
    accented names show correctly.

    It comes as `text/csv`, or as `application/octet-stream` to a client whose `Accept` prefers that.
    The download streams as the database produces it, its first bytes at once, compressed with zstd,
    brotli or gzip if the client's `Accept-Encoding` accepts one (`curl --compressed` does); a transfer
    that breaks off midway is a failed download, never a complete short file. At most a few downloads
    run at once: past that the answer is 503 with `Retry-After`.

    Args:
        communities (list[str] | Unset):
        rfs (bool | Unset):
        rfs_date_before (datetime.date | Unset):
        rfs_date_after (datetime.date | Unset):
        business (bool | Unset):
        bduk (bool | Unset):
        segments (list[Segment] | Unset):
        bom (bool | Unset):  Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        File | Problem
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
        bom=bom,
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
    bom: bool | Unset = False,
) -> Response[File | Problem]:
    """Download a mailing list as CSV

     The premises matching every filter given, as a CSV file to download. A filter left out does not
    filter. The file is `text/csv; charset=utf-8` with a header row and these columns, in this order:

    `uprn, address_line_1, address_line_2, address_line_3, town, postcode, community, rfs, rfs_date,
    business, bduk, segment`

    Rows are sorted by community, postcode and UPRN; booleans are `true`/`false`, dates `YYYY-MM-DD`,
    a missing value is an empty cell. Values are quoted as RFC 4180 says (lines end in LF). A cell that
    a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
    gets a leading `'`, so it shows as text. Open in Excel with `bom=true` so that Welsh and other
    accented names show correctly.

    It comes as `text/csv`, or as `application/octet-stream` to a client whose `Accept` prefers that.
    The download streams as the database produces it, its first bytes at once, compressed with zstd,
    brotli or gzip if the client's `Accept-Encoding` accepts one (`curl --compressed` does); a transfer
    that breaks off midway is a failed download, never a complete short file. At most a few downloads
    run at once: past that the answer is 503 with `Retry-After`.

    Args:
        communities (list[str] | Unset):
        rfs (bool | Unset):
        rfs_date_before (datetime.date | Unset):
        rfs_date_after (datetime.date | Unset):
        business (bool | Unset):
        bduk (bool | Unset):
        segments (list[Segment] | Unset):
        bom (bool | Unset):  Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[File | Problem]
    """

    kwargs = _get_kwargs(
        communities=communities,
        rfs=rfs,
        rfs_date_before=rfs_date_before,
        rfs_date_after=rfs_date_after,
        business=business,
        bduk=bduk,
        segments=segments,
        bom=bom,
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
    bom: bool | Unset = False,
) -> File | Problem | None:
    """Download a mailing list as CSV

     The premises matching every filter given, as a CSV file to download. A filter left out does not
    filter. The file is `text/csv; charset=utf-8` with a header row and these columns, in this order:

    `uprn, address_line_1, address_line_2, address_line_3, town, postcode, community, rfs, rfs_date,
    business, bduk, segment`

    Rows are sorted by community, postcode and UPRN; booleans are `true`/`false`, dates `YYYY-MM-DD`,
    a missing value is an empty cell. Values are quoted as RFC 4180 says (lines end in LF). A cell that
    a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
    gets a leading `'`, so it shows as text. Open in Excel with `bom=true` so that Welsh and other
    accented names show correctly.

    It comes as `text/csv`, or as `application/octet-stream` to a client whose `Accept` prefers that.
    The download streams as the database produces it, its first bytes at once, compressed with zstd,
    brotli or gzip if the client's `Accept-Encoding` accepts one (`curl --compressed` does); a transfer
    that breaks off midway is a failed download, never a complete short file. At most a few downloads
    run at once: past that the answer is 503 with `Retry-After`.

    Args:
        communities (list[str] | Unset):
        rfs (bool | Unset):
        rfs_date_before (datetime.date | Unset):
        rfs_date_after (datetime.date | Unset):
        business (bool | Unset):
        bduk (bool | Unset):
        segments (list[Segment] | Unset):
        bom (bool | Unset):  Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        File | Problem
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
            bom=bom,
        )
    ).parsed


def _download_name(response: httpx.Response) -> str:
    """The file name the server gave (Content-Disposition), without any directory part, or a fallback."""
    header = email.message.Message()
    header["content-disposition"] = response.headers.get("content-disposition", "")
    name = (header.get_filename() or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name.startswith("."):
        content_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        name = "get_directmail_csv" + (mimetypes.guess_extension(content_type) or "")
    return name


def _open_part(directory: str | os.PathLike[str]) -> IO[bytes]:
    """A hidden temporary file next to the target, so that a broken transfer never leaves a short file under the
    final name."""
    return tempfile.NamedTemporaryFile(dir=directory, prefix=".", suffix=".part", delete=False)


def _keep(part: IO[bytes], directory: str | os.PathLike[str], response: httpx.Response) -> Path:
    part.close()
    path = Path(directory) / _download_name(response)
    os.replace(part.name, path)
    return path


def _discard(part: IO[bytes]) -> None:
    part.close()
    Path(part.name).unlink(missing_ok=True)


def _not_downloaded(client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | None:
    parsed = _parse_response(client=client, response=response)
    assert not isinstance(parsed, File)
    return parsed


def sync_download(
    *,
    client: AuthenticatedClient,
    communities: list[str] | Unset = UNSET,
    rfs: bool | Unset = UNSET,
    rfs_date_before: datetime.date | Unset = UNSET,
    rfs_date_after: datetime.date | Unset = UNSET,
    business: bool | Unset = UNSET,
    bduk: bool | Unset = UNSET,
    segments: list[Segment] | Unset = UNSET,
    bom: bool | Unset = False,
    directory: str | os.PathLike[str] = ".",
    chunk_size: int = 65536,
) -> Path | Problem | None:
    """Download a mailing list as CSV, streamed to a file.

    Writes the body exactly as the server sent it (after undoing any Content-Encoding; no text decoding, so a
    byte-order mark stays) to `directory`, under the file name from Content-Disposition, replacing a file of that
    name, and returns its path. The body is never held in memory. Until the transfer completes it goes to a hidden
    `.part` file, removed if the transfer fails (the exception propagates).

    Takes the same arguments as `sync`; any other status is parsed as `sync` parses it.
    """
    kwargs = _get_kwargs(
        communities=communities,
        rfs=rfs,
        rfs_date_before=rfs_date_before,
        rfs_date_after=rfs_date_after,
        business=business,
        bduk=bduk,
        segments=segments,
        bom=bom,
    )
    with client.get_httpx_client().stream(**kwargs) as response:
        if response.status_code != 200:
            response.read()
            return _not_downloaded(client, response)
        part = _open_part(directory)
        try:
            for chunk in response.iter_bytes(chunk_size):
                part.write(chunk)
        except BaseException:
            _discard(part)
            raise
        return _keep(part, directory, response)


async def asyncio_download(
    *,
    client: AuthenticatedClient,
    communities: list[str] | Unset = UNSET,
    rfs: bool | Unset = UNSET,
    rfs_date_before: datetime.date | Unset = UNSET,
    rfs_date_after: datetime.date | Unset = UNSET,
    business: bool | Unset = UNSET,
    bduk: bool | Unset = UNSET,
    segments: list[Segment] | Unset = UNSET,
    bom: bool | Unset = False,
    directory: str | os.PathLike[str] = ".",
    chunk_size: int = 65536,
) -> Path | Problem | None:
    """Download a mailing list as CSV, streamed to a file: `sync_download` for asyncio (the file writes
    block the event loop briefly, one chunk at a time)."""
    kwargs = _get_kwargs(
        communities=communities,
        rfs=rfs,
        rfs_date_before=rfs_date_before,
        rfs_date_after=rfs_date_after,
        business=business,
        bduk=bduk,
        segments=segments,
        bom=bom,
    )
    async with client.get_async_httpx_client().stream(**kwargs) as response:
        if response.status_code != 200:
            await response.aread()
            return _not_downloaded(client, response)
        part = _open_part(directory)
        try:
            async for chunk in response.aiter_bytes(chunk_size):
                part.write(chunk)
        except BaseException:
            _discard(part)
            raise
        return _keep(part, directory, response)
