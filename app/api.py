"""The views `api-spec.yml` names: thin, each hands over to the domain code and returns its result.

Views answer with Flask responses: Connexion cannot pick one media type by itself for an operation
whose errors are declared as application/problem+json.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flask

from app import data_queries
from app.data_types import Caller, ExportFilters
from app.database import Database
from app.exports import Exports, download_name
from app.mailing_lists import check_communities_exist, summary
from app.middleware.disconnect import disconnected_event


def get_directmail_csv(
    communities: str | None = None,
    rfs: bool | None = None,
    rfs_date_before: str | None = None,
    rfs_date_after: str | None = None,
    business: bool | None = None,
    bduk: bool | None = None,
    segments: str | None = None,
    bom: bool = False,
) -> flask.Response:
    filters = ExportFilters.from_query(communities, rfs, rfs_date_before, rfs_date_after, business, bduk, segments)
    _check_communities(filters)
    exports: Exports = flask.current_app.extensions["exports"]
    body = exports.csv(filters, disconnected=disconnected_event(), bom=bom)
    disposition = f'attachment; filename="{download_name(dt.date.today())}"'
    return flask.Response(body, mimetype="text/csv", headers={"Content-Disposition": disposition})


def get_directmail_summary(
    communities: str | None = None,
    rfs: bool | None = None,
    rfs_date_before: str | None = None,
    rfs_date_after: str | None = None,
    business: bool | None = None,
    bduk: bool | None = None,
    segments: str | None = None,
) -> flask.Response:
    filters = ExportFilters.from_query(communities, rfs, rfs_date_before, rfs_date_after, business, bduk, segments)
    with _database().session() as session:
        check_communities_exist(session, filters)
        return flask.jsonify(summary(session, filters).to_dict())


def get_communities() -> flask.Response:
    with _database().session() as session:
        return flask.jsonify([community.to_dict() for community in data_queries.communities(session)])


def get_me(token_info: dict[str, Any]) -> flask.Response:
    identity = token_info["caller"]
    caller = Caller(
        object_id=identity.object_id,
        app_id=identity.app_id,
        name=identity.name,
        roles=sorted(identity.roles),
        scopes=sorted(identity.scopes),
    )
    return flask.jsonify(caller.to_dict())


def _check_communities(filters: ExportFilters) -> None:
    with _database().session() as session:
        check_communities_exist(session, filters)


def _database() -> Database:
    database: Database = flask.current_app.extensions["database"]
    return database
