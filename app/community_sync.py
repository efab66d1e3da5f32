"""The communities, synced from Salesforce: `run.py sync-salesforce`, run by a Kubernetes CronJob.

Every community record is read first; only then are they applied, in one transaction: new ones added,
changed ones updated, ones gone from Salesforce retired (kept for their premises, in no list, count or
export) or, with no premises, deleted. A failure anywhere (Salesforce, a malformed record, the database)
leaves the table exactly as it was, and exports go on from it. One sync runs at a time: on PostgreSQL a
second one exits at once, saying so (a transaction-scoped advisory lock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from app.models import Community, Premises, SalesforceSync
from app.salesforce import SalesforceClient, SalesforceError
from config import Settings

# pg_advisory_xact_lock's key: any constant no other lock of this database uses ("DMSF").
SYNC_LOCK = 0x444D5346
SALESFORCE_ID_LENGTHS = (15, 18)
SYNCED_AT_HEADER = "Salesforce-Synced-At"  # on GET /communities: when the last successful sync finished


class SyncRefused(Exception):
    """The sync did not run, or did not finish: nothing was changed."""


@dataclass(frozen=True)
class CommunityRecord:
    salesforce_id: str
    name: str
    rfs: bool
    rfs_date: dt.date | None


@dataclass(frozen=True)
class SyncReport:
    added: list[str]
    changed: list[str]
    retired: list[str]

    def lines(self) -> list[str]:
        if not (self.added or self.changed or self.retired):
            return ["no change"]
        return [f"{what}: {name}" for what, names in self._by_kind() for name in names]

    def _by_kind(self) -> list[tuple[str, list[str]]]:
        return [("added", self.added), ("changed", self.changed), ("retired", self.retired)]


def soql(settings: Settings) -> str:
    """The query, from settings only (their names are checked to be API names)."""
    fields = [
        settings.salesforce_id_field,
        settings.salesforce_name_field,
        settings.salesforce_rfs_field,
        settings.salesforce_rfs_date_field,
    ]
    return f"SELECT {', '.join(fields)} FROM {settings.salesforce_object}"  # noqa: S608 (API names, checked)


def salesforce_communities(settings: Settings, client: SalesforceClient) -> list[CommunityRecord]:
    """Every community Salesforce holds, checked: a record that is not one raises SyncRefused."""
    records = [_community(settings, record) for record in client.records(soql(settings))]
    _refuse_duplicates(records)
    return records


def _community(settings: Settings, record: dict[str, Any]) -> CommunityRecord:
    salesforce_id = record.get(settings.salesforce_id_field)
    name = record.get(settings.salesforce_name_field)
    rfs = record.get(settings.salesforce_rfs_field)
    rfs_date = record.get(settings.salesforce_rfs_date_field)
    where = f"record {salesforce_id!r}"
    if not isinstance(salesforce_id, str) or len(salesforce_id) not in SALESFORCE_ID_LENGTHS:
        raise SyncRefused(f"{where}: {settings.salesforce_id_field} is not a Salesforce id")
    if not isinstance(name, str) or not name.strip() or any(ord(character) < 32 for character in name):
        raise SyncRefused(f"{where}: {settings.salesforce_name_field} {name!r} is not a community name")
    if not isinstance(rfs, bool):
        raise SyncRefused(f"{where}: {settings.salesforce_rfs_field} {rfs!r} is not true or false")
    try:
        date = dt.date.fromisoformat(rfs_date) if rfs_date is not None else None
    except (TypeError, ValueError):
        raise SyncRefused(f"{where}: {settings.salesforce_rfs_date_field} {rfs_date!r} is not a date") from None
    return CommunityRecord(salesforce_id=salesforce_id[:18], name=name.strip(), rfs=rfs, rfs_date=date)


def _refuse_duplicates(records: Iterable[CommunityRecord]) -> None:
    seen: set[str] = set()
    for record in records:
        if record.name in seen:
            raise SyncRefused(f"two records are named {record.name!r}: community names must be unique")
        seen.add(record.name)


def sync_communities(settings: Settings, connection: Connection, client: SalesforceClient) -> SyncReport:
    """Reads Salesforce, then applies what it read in `connection`'s one transaction."""
    if connection.dialect.name == "postgresql" and not connection.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SYNC_LOCK}
    ):
        raise SyncRefused("another sync is running: this one changed nothing")
    try:
        records = salesforce_communities(settings, client)
    except SalesforceError as exc:
        raise SyncRefused(str(exc)) from None
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        report = _apply(session, records)
        session.add(
            SalesforceSync(
                finished_at=dt.datetime.now(dt.UTC),
                added=len(report.added),
                changed=len(report.changed),
                retired=len(report.retired),
            )
        )
        session.commit()  # into the caller's transaction, which commits or rolls back the lot
    return report


def _apply(session: Session, records: list[CommunityRecord]) -> SyncReport:
    held = {community.salesforce_id: community for community in session.scalars(select(Community))}
    added, changed, retired = [], [], []
    for record in records:
        community = held.pop(record.salesforce_id, None)
        if community is None:
            session.add(
                Community(
                    salesforce_id=record.salesforce_id, name=record.name, rfs=record.rfs, rfs_date=record.rfs_date
                )
            )
            added.append(record.name)
        elif (community.name, community.rfs, community.rfs_date, community.retired_at) != (
            record.name,
            record.rfs,
            record.rfs_date,
            None,
        ):
            was = community.name
            community.name, community.rfs, community.rfs_date, community.retired_at = (
                record.name,
                record.rfs,
                record.rfs_date,
                None,
            )
            changed.append(record.name if was == record.name else f"{was} -> {record.name}")
    now = dt.datetime.now(dt.UTC)
    for community in held.values():
        if community.retired_at is not None:
            continue
        if session.scalar(select(func.count()).where(Premises.community_id == community.id)):
            community.retired_at = now
        else:
            session.delete(community)
        retired.append(community.name)
    session.flush()
    return SyncReport(added=added, changed=changed, retired=retired)


def last_sync(session: Session) -> dt.datetime | None:
    """When the last successful sync finished."""
    return session.scalar(select(func.max(SalesforceSync.finished_at)))
