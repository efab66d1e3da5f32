"""The communities, synced from Salesforce: `run.py sync-salesforce`, run by a Kubernetes CronJob.

Every community record is read and checked first, with no transaction open; only then are they applied,
in one transaction: new ones added, changed ones updated, ones gone from Salesforce retired (kept for
their premises, in no list, count or export) or, with no premises, deleted. A failure anywhere
(Salesforce, a malformed record, the database) leaves the table exactly as it was, and exports go on
from it. So does an answer that would take more than SALESFORCE_SYNC_MAX_SHRINK_PERCENT of the live
communities out of the lists at once (an empty answer, say), unless the operator allows it. One sync
applies at a time: on PostgreSQL a second one exits at once, saying so (a transaction-scoped advisory lock).

Names are unique among live communities only, so that Salesforce's ordinary edits all apply: renames,
two communities swapping names, a community deleted and re-created under its old name, a retired
community's name taken by another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.orm import Session

from app import SPECIFICATION
from app.models import Community, Premises, SalesforceSync
from app.salesforce import SalesforceClient
from app.table_upkeep import vacuum_analyse
from config import Settings
from servicekit.excerpts import excerpt
from servicekit.spec import broken_rule, parameter_schema

# pg_advisory_xact_lock's key: any constant no other lock of this database uses ("DMSF").
SYNC_LOCK = 0x444D5346
SALESFORCE_ID_LENGTHS = (15, 18)
SYNCED_AT_HEADER = "Salesforce-Synced-At"  # on GET /communities: when the last successful sync finished
# What a renamed community is called for a moment inside the transaction, so that no rename meets a name
# another community is about to give up. A control character: no stored name holds one.
RENAMING = "\x1frenaming "


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
    retired: list[str]  # gone from Salesforce, kept for their premises
    deleted: list[str]  # gone from Salesforce, with no premises to keep them for

    def changed_anything(self) -> bool:
        return any((self.added, self.changed, self.retired, self.deleted))

    def lines(self) -> list[str]:
        kinds = {"added": self.added, "changed": self.changed, "retired": self.retired, "deleted": self.deleted}
        return [f"{kind}: {name}" for kind, names in kinds.items() for name in names] or ["no change"]


def sync_communities(settings: Settings, engine: Engine, *, allow_shrink: bool = False) -> SyncReport:
    """Reads every community from Salesforce, then applies them in one transaction of its own."""
    with SalesforceClient(settings) as client:
        records = salesforce_communities(settings, client)
    with engine.begin() as connection:
        limit = None if allow_shrink else settings.salesforce_sync_max_shrink_percent
        report = apply_communities(connection, records, max_shrink_percent=limit)
    if report.changed_anything():
        # Every update left a dead row version behind; the export's plan reads `communities` first.
        vacuum_analyse(engine, [Community.__tablename__])
    return report


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


@cache
def _name_rules() -> dict[str, Any]:
    """What a name must be for callers to ask for it: the spec's rules for one of `communities`."""
    items: dict[str, Any] = parameter_schema(SPECIFICATION, "communities")["items"]
    return items


def _community(settings: Settings, record: dict[str, Any]) -> CommunityRecord:
    salesforce_id = record.get(settings.salesforce_id_field)
    name: Any = record.get(settings.salesforce_name_field)  # checked below, against the spec
    rfs = record.get(settings.salesforce_rfs_field)
    rfs_date = record.get(settings.salesforce_rfs_date_field)
    where = f"record {excerpt(salesforce_id)}"
    if not isinstance(salesforce_id, str) or len(salesforce_id) not in SALESFORCE_ID_LENGTHS:
        raise SyncRefused(f"{where}: {settings.salesforce_id_field} is not a Salesforce id")
    # As Salesforce holds it, and as stored (without the spaces around it): a name of spaces is no name.
    rule = broken_rule(_name_rules(), name) or broken_rule(_name_rules(), name.strip())
    if rule is not None:
        raise SyncRefused(
            f"{where}: {settings.salesforce_name_field} {excerpt(name)} breaks the API's rule for a community"
            f" name ({rule}), so no one could ask for it"
        )
    if not isinstance(rfs, bool):
        raise SyncRefused(f"{where}: {settings.salesforce_rfs_field} {excerpt(rfs)} is not true or false")
    try:
        date = dt.date.fromisoformat(rfs_date) if rfs_date is not None else None
    except (TypeError, ValueError):
        raise SyncRefused(f"{where}: {settings.salesforce_rfs_date_field} {excerpt(rfs_date)} is not a date") from None
    return CommunityRecord(salesforce_id=salesforce_id[:18], name=name.strip(), rfs=rfs, rfs_date=date)


def _refuse_duplicates(records: Iterable[CommunityRecord]) -> None:
    seen: set[str] = set()
    for record in records:
        if record.name in seen:
            raise SyncRefused(f"two records are named {excerpt(record.name)}: community names must be unique")
        seen.add(record.name)


def apply_communities(
    connection: Connection, records: list[CommunityRecord], *, max_shrink_percent: int | None
) -> SyncReport:
    """Applies what was read from Salesforce in `connection`'s one transaction. `max_shrink_percent`: the
    largest share of the live communities it may take out of the lists (None: any)."""
    if connection.dialect.name == "postgresql" and not connection.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SYNC_LOCK}
    ):
        raise SyncRefused("another sync is running")
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        held = {community.salesforce_id: community for community in session.scalars(select(Community))}
        listed = {record.salesforce_id for record in records}
        gone = [c for c in held.values() if c.retired_at is None and c.salesforce_id not in listed]
        live = sum(community.retired_at is None for community in held.values())
        if max_shrink_percent is not None:
            _refuse_shrinking(len(records), len(gone), live, max_shrink_percent)
        retired, deleted = _take_out(session, gone)
        added, changed = _bring_in(session, held, records)
        report = SyncReport(added=added, changed=changed, retired=retired, deleted=deleted)
        session.add(
            SalesforceSync(
                finished_at=dt.datetime.now(dt.UTC),
                added=len(added),
                changed=len(changed),
                retired=len(retired),
                deleted=len(deleted),
            )
        )
        session.commit()  # into the caller's transaction, which commits or rolls back the lot
    return report


def _refuse_shrinking(listed: int, gone: int, live: int, max_percent: int) -> None:
    if gone and gone * 100 > live * max_percent:
        raise SyncRefused(
            f"Salesforce lists {listed} communities, which would take {gone} of the {live} live ones out of every"
            f" list (more than SALESFORCE_SYNC_MAX_SHRINK_PERCENT, {max_percent}%); if Salesforce is right, run"
            " again with --allow-shrink"
        )


def _take_out(session: Session, gone: list[Community]) -> tuple[list[str], list[str]]:
    """Retires the communities gone from Salesforce, or deletes those with no premises; first of all, so
    that their names are free for the rest."""
    now = dt.datetime.now(dt.UTC)
    retired, deleted = [], []
    for community in gone:
        if session.scalar(select(func.count()).where(Premises.community_id == community.id)):
            community.retired_at = now
            retired.append(community.name)
        else:
            session.delete(community)
            deleted.append(community.name)
    session.flush()
    return retired, deleted


def _bring_in(
    session: Session, held: dict[str, Community], records: list[CommunityRecord]
) -> tuple[list[str], list[str]]:
    """Adds the new communities and brings the held ones in line. Every renamed community first lets go
    of its old name, so that swaps and chains of renames apply whatever order the rows are written in."""
    renamed = {r.salesforce_id: held[r.salesforce_id].name for r in records if _is_renamed(held, r)}
    for salesforce_id in renamed:
        held[salesforce_id].name = RENAMING + salesforce_id
    session.flush()
    added, changed = [], []
    for record in records:
        community = held.get(record.salesforce_id)
        if community is None:
            session.add(
                Community(
                    salesforce_id=record.salesforce_id, name=record.name, rfs=record.rfs, rfs_date=record.rfs_date
                )
            )
            added.append(record.name)
        elif record.salesforce_id in renamed or (community.rfs, community.rfs_date, community.retired_at) != (
            record.rfs,
            record.rfs_date,
            None,
        ):
            was = renamed.get(record.salesforce_id, record.name)
            community.name, community.rfs, community.rfs_date, community.retired_at = (
                record.name,
                record.rfs,
                record.rfs_date,
                None,
            )
            changed.append(record.name if was == record.name else f"{was} -> {record.name}")
    session.flush()
    return added, changed


def _is_renamed(held: dict[str, Community], record: CommunityRecord) -> bool:
    community = held.get(record.salesforce_id)
    return community is not None and community.name != record.name


def last_sync(session: Session) -> dt.datetime | None:
    """When the last successful sync finished."""
    return session.scalar(select(func.max(SalesforceSync.finished_at)))
