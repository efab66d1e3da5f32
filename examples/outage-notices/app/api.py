"""The views `api-spec.yml` names: each takes its operation's parameters by name and calls the domain."""

from __future__ import annotations

from typing import Any

import flask

from app.notices import added_notice, latest_notices, notice_by_id, notice_json, notices_csv
from servicekit import Database, Downloads, current
from servicekit.responses import created


def list_notices(limit: int = 50) -> flask.Response:
    with current(Database).read_session() as session:
        return flask.jsonify([notice_json(notice) for notice in latest_notices(session, limit)])


def create_notice(body: dict[str, Any]) -> flask.Response:
    with current(Database).session() as session:
        notice = notice_json(added_notice(session, body))
    return created(notice, notice["id"])


def get_notice(notice_id: int) -> flask.Response:
    with current(Database).read_session() as session:
        return flask.jsonify(notice_json(notice_by_id(session, notice_id)))


# --8<-- [start:download]
def get_notices_csv() -> flask.Response:
    disposition = {"Content-Disposition": 'attachment; filename="notices.csv"'}
    return current(Downloads).response(notices_csv, mimetype="text/csv", headers=disposition)


# --8<-- [end:download]
