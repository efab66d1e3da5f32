"""`run.py audit`: the audit trail's events from the `audit_events` table, for an auditor's questions
("who took which data between these dates"), one readable line each or JSON lines (`--json`).

The kit filters on what every service's events have (when, action, user); a service adds its own
question about the details it records (for a service of regional data: which region's rows could an access reach)
as a test of each event's details, made from arguments it adds to the command:

    audit = cli.add_audit(lambda args: partial(reaches, name=args.name) if args.name else None)
    audit.add_argument("--name", help="...")
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from servicekit.audit import AuditEvent
from servicekit.audit_store import AuditQuery, stored_events
from servicekit.database import Database
from servicekit.migrations import Migrations
from servicekit.settings import DatabaseSettings

__all__ = ["DetailsFilter", "DetailsTest"]

DetailsTest = Callable[[Mapping[str, Any]], bool]
"""A service's question about an audit event's details: true for the events it asks for."""
DetailsFilter = Callable[[argparse.Namespace], DetailsTest | None]
"""The `DetailsTest` the `audit` command's arguments ask for, or None when they ask nothing of the details."""


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", type=moment, help="from this moment on (ISO 8601: 2026-12-01 or 2026-12-01T09:30; UTC unless given)"
    )
    parser.add_argument("--until", type=end_moment, help="up to this moment; a date alone counts as its whole day")
    parser.add_argument("--action", action="append", default=[], help="only this action (repeatable)")
    parser.add_argument("--user", help="only this caller: their object id or name")
    parser.add_argument("--json", action="store_true", help="one JSON object a line instead of text")


def moment(value: str) -> dt.datetime:
    """A moment given on the command line, in UTC unless it names its zone."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date or time") from None
    # In UTC, as the table holds them (SQLite compares them as text).
    return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def end_moment(value: str) -> dt.datetime:
    """Like `moment`, but a date alone is the end of that day: `--until 2026-12-07` includes the 7th."""
    parsed = moment(value)
    is_date_alone = len(value) == len("2026-12-07")
    return parsed + dt.timedelta(days=1) if is_date_alone else parsed


def print_audit_events(
    settings: DatabaseSettings, args: argparse.Namespace, migrations: Migrations, details_filter: DetailsFilter
) -> None:
    database = Database.from_settings(settings, migrations)
    test = details_filter(args)
    query = AuditQuery(since=args.since, until=args.until, actions=tuple(args.action), user=args.user)
    try:
        for event in stored_events(database, query):
            if test is None or test(event.details):
                print(json.dumps(event_json(event)) if args.json else event_line(event), flush=True)
    finally:
        database.dispose()


def event_json(event: AuditEvent) -> dict[str, Any]:
    return dataclasses.asdict(event) | {"at": event.at.isoformat(), "outcome": str(event.outcome)}


def event_line(event: AuditEvent) -> str:
    """`2026-12-07T09:12:03Z report-download complete by Ann (oid, via app) rows=3 bytes=210 {...} request=...`"""
    at = event.at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    via = f", via {event.app_id}" if event.app_id else ""
    who = f"{event.user_name or '(no name)'} ({event.user_id}{via})"
    counts = f"rows={_shown(event.rows)} bytes={_shown(event.bytes)}"
    details = json.dumps(event.details, sort_keys=True, ensure_ascii=False)
    ids = [f"request={event.request_id}"]
    ids += [f"caller_request={event.caller_request_id}"] if event.caller_request_id else []
    ids += [f"trace={event.trace_id}"] if event.trace_id else []
    return " ".join([at, event.action, str(event.outcome), "by", who, counts, details, *ids])


def _shown(count: int | None) -> str:
    return "-" if count is None else str(count)
