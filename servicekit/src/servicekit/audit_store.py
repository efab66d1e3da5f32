"""The audit trail kept where an auditor can query it: the `audit_events` table of the service's database.

A service keeps its events there by creating the table in a migration and adding an `AuditStore` to its
parts; its models declare the table on their metadata, so that alembic compares it like their own:

    audit_events = audit_events_table(Base.metadata)                  # models.py
    def upgrade() -> None: create_audit_events_table()                 # a migration
    def downgrade() -> None: drop_audit_events_table()
    parts=[AuditStore(database, settings.audit_retention_days), ...]   # create_app

Events are written by a thread of the store's own, so that neither the event loop nor a download's thread
waits on the database, and in batches when they come fast. The log line is written first, whatever
happens here: an event the database refuses (it is down, say) is still in the log, and the failure is
logged without its SQL or values. The same thread deletes the events older than the retention period
when the service starts and once a day after.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import structlog
from alembic import op
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    RowMapping,
    Table,
    Text,
    delete,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

from servicekit.audit import AuditEvent, AuditSink, Outcome
from servicekit.database import Database

__all__ = ["AuditStore", "audit_events_table", "create_audit_events_table", "drop_audit_events_table"]

TABLE = "audit_events"
PRUNE_EVERY = dt.timedelta(days=1)
WRITE_ATTEMPTS = 3  # a moment's lock (SQLite) or failover is waited out; then the log alone holds the event
RETRY_SECONDS = 1.0
CLOSE_SECONDS = 5.0  # how long shutdown waits for the events still queued
_CLOSE = object()

log = structlog.get_logger(__name__)


def audit_events_table(metadata: MetaData) -> Table:
    """The table, declared on `metadata`: a service's models call it once, on their own."""
    return Table(
        TABLE,
        metadata,
        *_columns(),
        Index("audit_events_at", "at"),
        Index("audit_events_user_id_at", "user_id", "at"),
        comment="The audit trail: one row for each access to personal data (servicekit.audit)",
    )


def _columns() -> list[Column[Any]]:
    """New each time: a column belongs to one table."""
    return [
        # An integer primary key is SQLite's autoincrementing rowid; BIGINT elsewhere.
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False, comment="When the access ended"),
        Column("action", Text(), nullable=False),
        Column("outcome", Text(), nullable=False),
        Column("user_id", Text(), comment="The caller's object id in Entra ID"),
        Column("user_name", Text()),
        Column("app_id", Text(), comment="The client app the caller came through"),
        Column("details", JSON().with_variant(JSONB(), "postgresql"), nullable=False, comment="What was asked for"),
        Column("rows", BigInteger()),
        Column("bytes", BigInteger()),
        Column("request_id", Text(), comment="Ours, unique"),
        Column("caller_request_id", Text(), comment="The X-Request-ID the caller sent, if any"),
        Column("trace_id", Text()),
    ]


def create_audit_events_table() -> None:
    """In a migration's upgrade(): the table as this version of the kit declares it."""
    table = audit_events_table(MetaData())
    op.create_table(TABLE, *_columns(), comment=table.comment)
    for index in table.indexes:
        op.create_index(index.name, TABLE, [column.name for column in index.columns])


def drop_audit_events_table() -> None:
    """In a migration's downgrade()."""
    op.drop_table(TABLE)


_TABLE = audit_events_table(MetaData())


class AuditStore(AuditSink):
    """The service's part that keeps its audit events in `audit_events`, through a writer thread."""

    def __init__(self, database: Database, retention_days: int) -> None:
        self.database = database
        self.retention = dt.timedelta(days=retention_days)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def start(self) -> None:
        """Starts the writer (the lifespan does, so that pruning runs even while no event comes)."""
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_until_closed, name="audit-store", daemon=True)
                self._thread.start()

    def keep(self, event: AuditEvent) -> None:
        self.start()
        self._queue.put(event)

    def close(self) -> None:
        """Writes what is queued (waiting at most CLOSE_SECONDS), then stops the writer."""
        with self._starting:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_CLOSE)
            thread.join(CLOSE_SECONDS)

    def _write_until_closed(self) -> None:
        pruned_at = self._prune()
        while True:
            try:
                first = self._queue.get(timeout=PRUNE_EVERY.total_seconds())
            except queue.Empty:
                first = None
            batch, closing = self._batch(first)
            if batch:
                self._write(batch, closing)
            if closing:
                return
            if dt.datetime.now(dt.UTC) - pruned_at >= PRUNE_EVERY:
                pruned_at = self._prune()

    def _batch(self, first: object) -> tuple[list[AuditEvent], bool]:
        """`first` and whatever else is queued already; and whether the store is closing."""
        batch: list[AuditEvent] = []
        item = first
        while True:
            if item is _CLOSE:
                return batch, True
            if isinstance(item, AuditEvent):
                batch.append(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _write(self, batch: list[AuditEvent], closing: bool) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self.database.engine.begin() as connection:
                    connection.execute(insert(_TABLE), [_row(event) for event in batch])
                return
            except Exception as exc:  # whatever the database (or its driver) does, the writer lives on
                if attempt == WRITE_ATTEMPTS or closing:
                    # Its SQL and values stay out of the log: the audit lines already hold the events.
                    log.error(
                        "audit events not stored in the database: the log holds them",
                        error=_error_name(exc),
                        request_ids=[event.request_id for event in batch],
                    )
                    return
                threading.Event().wait(RETRY_SECONDS)

    def _prune(self) -> dt.datetime:
        now = dt.datetime.now(dt.UTC)
        try:
            with self.database.engine.begin() as connection:
                deleted = connection.execute(delete(_TABLE).where(_TABLE.c.at < now - self.retention)).rowcount
        except Exception as exc:  # as in _write
            log.error("audit events past their retention not deleted", error=_error_name(exc))
            return now
        if deleted:
            log.info("audit events past their retention deleted", events=deleted, retention_days=self.retention.days)
        return now


def _error_name(exc: Exception) -> str:
    """The driver's error class (UndefinedTable, OperationalError): SQLAlchemy's message holds the SQL."""
    return type(getattr(exc, "orig", None) or exc).__name__


def _row(event: AuditEvent) -> dict[str, Any]:
    row = {column.name: getattr(event, column.name) for column in _TABLE.columns if column.name != "id"}
    return row | {"outcome": str(event.outcome)}


@dataclass(frozen=True)
class AuditQuery:
    """Which events `stored_events` reads: those ended in [since, until), of any of `actions` (all when
    empty), of the caller whose object id or name is `user`."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actions: tuple[str, ...] = ()
    user: str | None = None


def stored_events(database: Database, query: AuditQuery) -> Iterator[AuditEvent]:
    """The events the query asks for, oldest first."""
    statement = select(_TABLE).order_by(_TABLE.c.at, _TABLE.c.id)
    if query.since is not None:
        statement = statement.where(_TABLE.c.at >= query.since)
    if query.until is not None:
        statement = statement.where(_TABLE.c.at < query.until)
    if query.actions:
        statement = statement.where(_TABLE.c.action.in_(query.actions))
    if query.user is not None:
        statement = statement.where((_TABLE.c.user_id == query.user) | (_TABLE.c.user_name == query.user))
    with database.engine.connect() as connection:
        for row in connection.execute(statement).mappings():
            yield _event(row)


def _event(row: RowMapping) -> AuditEvent:
    at: dt.datetime = row["at"]
    return AuditEvent(
        # SQLite keeps no zone: what was written was UTC.
        at=at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC),
        action=row["action"],
        outcome=Outcome(row["outcome"]),
        user_id=row["user_id"],
        user_name=row["user_name"],
        app_id=row["app_id"],
        details=row["details"],
        rows=row["rows"],
        bytes=row["bytes"],
        request_id=row["request_id"],
        caller_request_id=row["caller_request_id"],
        trace_id=row["trace_id"],
    )
