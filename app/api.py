"""The views `api-spec.yml` names: thin, each hands over to the domain code and returns its result.

Each view takes its operation's parameters by name (the kit checks them against the spec at start-up)
and reaches the service's parts with `current()`. Views answer with Flask responses: Connexion cannot
pick one media type by itself for an operation whose errors are declared as application/problem+json.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import flask

from app import data_queries
from app.community_sync import SYNCED_AT_HEADER, last_sync
from app.data_types import ExportFilters
from app.errors import MailingListError
from app.mailing_lists import (
    DOWNLOAD,
    EXCEL_BOM,
    SUMMARY,
    check_communities_exist,
    download_name,
    mailing_list_access,
    mailing_list_csv,
)
from app.summary_cache import SummaryCache
from servicekit import Database, Downloads, audited, audited_if_refused, current

CSV_MEDIA_TYPES = ["text/csv", "application/octet-stream"]  # the spec's, text/csv unless the client prefers bytes


def get_directmail_csv(
    communities: list[str] | None = None,
    rfs: bool | None = None,
    rfs_date_before: str | None = None,
    rfs_date_after: str | None = None,
    business: bool | None = None,
    bduk: bool | None = None,
    segments: list[str] | None = None,
    bom: bool = False,
    *,
    token_info: dict[str, Any],
) -> flask.Response:
    with current(Database).read_session() as session:
        asked = (communities, rfs, rfs_date_before, rfs_date_after, business, bduk, segments)
        filters = ExportFilters.from_parameters(*asked, partial(data_queries.ever_a_community, session))
        access = mailing_list_access(DOWNLOAD, token_info["caller"], filters)
        with audited_if_refused(access, (MailingListError,)):
            check_communities_exist(session, filters)
    return current(Downloads).response(
        partial(mailing_list_csv, filters=filters),
        mimetype=flask.request.accept_mimetypes.best_match(CSV_MEDIA_TYPES, default=CSV_MEDIA_TYPES[0]),
        headers={"Content-Disposition": f'attachment; filename="{download_name(filters, dt.date.today())}"'},
        prefix=EXCEL_BOM if bom else b"",
        audit=access,
    )


def get_directmail_summary(
    communities: list[str] | None = None,
    rfs: bool | None = None,
    rfs_date_before: str | None = None,
    rfs_date_after: str | None = None,
    business: bool | None = None,
    bduk: bool | None = None,
    segments: list[str] | None = None,
    *,
    token_info: dict[str, Any],
) -> flask.Response:
    with current(Database).read_session() as session:
        asked = (communities, rfs, rfs_date_before, rfs_date_after, business, bduk, segments)
        filters = ExportFilters.from_parameters(*asked, partial(data_queries.ever_a_community, session))
        access = mailing_list_access(SUMMARY, token_info["caller"], filters)
        with audited(access, refused=(MailingListError,)) as tally:
            mailing_summary = current(SummaryCache).summary(session, filters)
            tally.rows = mailing_summary.total
    return flask.jsonify(mailing_summary.to_dict())


def get_communities() -> flask.Response:
    with current(Database).read_session() as session:
        response = flask.jsonify([community.to_dict() for community in data_queries.communities(session)])
        synced_at = last_sync(session)
    if synced_at is not None:
        response.headers[SYNCED_AT_HEADER] = synced_at.isoformat()
    return response


def get_me(token_info: dict[str, Any]) -> flask.Response:
    return flask.jsonify(token_info["caller"].to_dict())
