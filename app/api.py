"""The views `api-spec.yml` names: thin, each hands over to the domain code and returns its result.

Views answer with Flask responses: Connexion cannot pick one media type by itself for an operation
whose errors are declared as application/problem+json. Views taking `**query` get every parameter the
spec declares (validated and typed by Connexion) and the caller's `user` and `token_info`.
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


def get_directmail_csv(bom: bool = False, **query: Any) -> flask.Response:
    filters = ExportFilters.from_query(query)
    _check_communities(filters)
    exports: Exports = flask.current_app.extensions["exports"]
    body = exports.csv(filters, disconnected=disconnected_event(), bom=bom)
    disposition = f'attachment; filename="{download_name(dt.date.today())}"'
    return flask.Response(body, mimetype="text/csv", headers={"Content-Disposition": disposition})


def get_directmail_summary(**query: Any) -> flask.Response:
    filters = ExportFilters.from_query(query)
    _check_communities(filters)
    with _database().session() as session:
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
