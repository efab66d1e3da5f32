"""Views of the fixture service's api.yml."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import flask
import httpx
from connexion.exceptions import ClientProblem
from sqlalchemy import text

from servicekit import AuditedAccess, Database, Downloads, current
from servicekit.copy_out import copied_csv
from servicekit.downloads import Producer
from servicekit.lists import listed
from servicekit.responses import created
from servicekit.spec import parameter_definition

INTERNAL_DETAIL = "KeyError in premises_query at line 42"
# The places the fixture service knows, one of them with a comma.
PLACES = {"Ely", "Diss", "Ely, Cambs"}
PLACES_PARAMETER = parameter_definition(Path(__file__).with_name("api.yml"), "places")


class Conflict(Exception):
    """The fixture service's own error, which it maps to 409."""


def slow(seconds: float) -> dict[str, Any]:
    time.sleep(seconds)
    return {"slept": seconds}


def failure() -> dict[str, Any]:
    raise RuntimeError(INTERNAL_DETAIL)


def conflict() -> dict[str, Any]:
    raise Conflict("The note was changed by someone else: fetch it again.")


def trickle() -> flask.Response:
    def lines() -> Iterator[bytes]:
        for number in range(5):
            time.sleep(0.2)
            yield f"line {number}\n".encode()

    return flask.Response(lines(), mimetype="text/csv")


def outbound(url: str) -> dict[str, Any]:
    return {"status": httpx.get(url, timeout=5).status_code}


def big() -> dict[str, Any]:
    return {"rows": [{"uprn": n, "town": "Llanfair Caereinion", "segment": "S1"} for n in range(1000)]}


def caller(token_info: dict[str, Any]) -> flask.Response:
    return flask.jsonify(token_info["caller"].to_dict())


def add_note(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    with current(Database).session() as session:
        note_id = session.scalar(text("INSERT INTO notes (body) VALUES (:body) RETURNING id"), body)
    return {"id": note_id}, 201


def note(note_id: int) -> dict[str, Any]:
    with current(Database).session() as session:
        return {"id": note_id, "body": session.scalar(text("SELECT body FROM notes WHERE id = :id"), {"id": note_id})}


def count_notes() -> dict[str, Any]:
    with current(Database).session() as session:
        return {"notes": session.scalar(text("SELECT count(*) FROM notes"))}


def echo(
    code: str | None = None,
    word: str | None = None,
    tags: list[str] | None = None,
    names: list[str] | None = None,
    places: list[str] | None = None,
) -> dict[str, Any]:
    if places is not None:
        places = listed(places, PLACES_PARAMETER, PLACES.__contains__)
    return {"code": code, "word": word, "tags": tags, "names": names, "places": places}


def numbers(rows: int) -> flask.Response:
    """1 to `rows`, one a line, streamed from PostgreSQL's COPY through the kit's downloads."""
    return current(Downloads).response(numbers_copied(rows), mimetype="text/plain")


def audited_numbers(rows: int, token_info: dict[str, Any]) -> flask.Response:
    """The same, as a download of personal data: audited."""
    access = AuditedAccess("numbers-download", token_info["caller"], {"asked": {"rows": rows}})
    return current(Downloads).response(numbers_copied(rows), mimetype="text/plain", audit=access)


def numbers_copied(rows: int) -> Producer:
    return partial(copied_csv, statement=text("SELECT n FROM generate_series(1, :rows) AS n").bindparams(rows=rows))


def slow_numbers(rows: int, seconds: float) -> flask.Response:
    """/numbers whose query takes `seconds` before its first row, as a sort over a big table would."""
    return current(Downloads).response(numbers_after_sleep(rows, seconds), mimetype="text/plain")


def numbers_after_sleep(rows: int, seconds: float) -> Producer:
    statement = text("SELECT n FROM pg_sleep(:seconds), generate_series(1, :rows) AS n")
    return partial(copied_csv, statement=statement.bindparams(seconds=seconds, rows=rows))


def database_sleep(seconds: float) -> dict[str, Any]:
    with current(Database).session() as session:
        session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
    return {"slept": seconds}


NOTICE_COLUMNS = "reference, title, contact, link, area, published_on, starts_at, ends_at, note_id"
NOTICE_FIELDS = NOTICE_COLUMNS.split(", ")
NOTICE_TYPES = {
    "reference": "uuid",
    "area": "integer",
    "published_on": "date",
    "starts_at": "timestamptz",
    "ends_at": "timestamptz",
    "note_id": "integer",
}


def notices(day: str | None = None, since: str | None = None, link: str | None = None) -> dict[str, Any]:
    """Connexion validates a header parameter but passes it to no view: it is read from the request."""
    query = text(
        f"SELECT {NOTICE_COLUMNS} FROM notices"
        " WHERE (CAST(:day AS date) IS NULL OR CAST(:day AS date) BETWEEN starts_at::date AND ends_at::date)"
        " AND (CAST(:since AS timestamptz) IS NULL OR starts_at >= CAST(:since AS timestamptz))"
        " AND (CAST(:link AS text) IS NULL OR link = :link) ORDER BY starts_at"
    )
    with current(Database).session() as session:
        rows = session.execute(query, {"day": day, "since": since, "link": link}).mappings().all()
    return {"notices": [dict(row) for row in rows], "reply_to": flask.request.headers.get("X-Reply-To")}


def add_notice(body: dict[str, Any]) -> flask.Response:
    """The notice, and its note first when it has one: a violation leaves neither written."""
    values = {field: body.get(field) for field in NOTICE_FIELDS}
    with current(Database).session() as session:
        if "note" in body:
            values["note_id"] = session.scalar(text("INSERT INTO notes (body) VALUES (:note) RETURNING id"), body)
        placeholders = ", ".join(f"CAST(:{field} AS {NOTICE_TYPES.get(field, 'text')})" for field in NOTICE_FIELDS)
        insert = f"INSERT INTO notices ({NOTICE_COLUMNS}) VALUES ({placeholders}) RETURNING {NOTICE_COLUMNS}"
        notice = dict(session.execute(text(insert), values).mappings().one())
    return created(notice, body["reference"])


def notice(reference: str) -> dict[str, Any]:
    with current(Database).session() as session:
        query = text(f"SELECT {NOTICE_COLUMNS} FROM notices WHERE reference = CAST(:reference AS uuid)")
        row = session.execute(query, {"reference": reference}).mappings().one_or_none()
    if row is None:
        raise ClientProblem(404, detail=f"No notice has the reference {reference}.")
    return dict(row)


def notices_csv(area: int) -> flask.Response:
    statement = text(f"SELECT {NOTICE_COLUMNS} FROM notices WHERE area = :area ORDER BY starts_at")
    producer = partial(copied_csv, statement=statement.bindparams(area=area), header=True)
    return current(Downloads).response(producer, mimetype="text/csv")
