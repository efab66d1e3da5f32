"""Outage notices: what the views and the commands do with them, knowing nothing of HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from app.models import Notice
from servicekit.copy_out import copied_csv

CSV_COLUMNS = ("id", "title", "area", "starts_at", "ends_at")


class NoticeNotFound(LookupError):
    """No notice has that id."""


def added_notice(session: Session, fields: dict[str, Any]) -> Notice:
    ends_at = fields.get("ends_at")
    notice = Notice(
        title=fields["title"],
        area=fields["area"],
        starts_at=utc(dt.datetime.fromisoformat(fields["starts_at"])),
        ends_at=utc(dt.datetime.fromisoformat(ends_at)) if ends_at else None,
    )
    session.add(notice)
    session.flush()  # the database gives the id
    return notice


def utc(moment: dt.datetime) -> dt.datetime:
    """The moment in UTC. The embedded SQLite keeps no offset: what it gives back without one was stored in UTC."""
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def notice_by_id(session: Session, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NoticeNotFound(f"there is no notice {notice_id}")
    return notice


def latest_notices(session: Session, limit: int) -> list[Notice]:
    return list(session.scalars(select(Notice).order_by(Notice.starts_at.desc(), Notice.id.desc()).limit(limit)))


def notice_json(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "title": notice.title,
        "area": notice.area,
        "starts_at": utc(notice.starts_at).isoformat(),
        "ends_at": utc(notice.ends_at).isoformat() if notice.ends_at else None,
    }


# --8<-- [start:download]
def notices_csv(connection: Connection) -> Generator[bytes, None, int]:
    """Every notice as CSV, its header first, written by PostgreSQL itself; then how many there were."""
    columns = [Notice.__table__.c[column] for column in CSV_COLUMNS]
    return (yield from copied_csv(connection, select(*columns).order_by(Notice.id), header=True))


# --8<-- [end:download]
