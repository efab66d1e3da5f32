"""The SQLAlchemy engine and sessions, the limits every connection carries, and the database half of readiness."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import structlog
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from servicekit.database_watch import DatabaseWatch, shut_down
from servicekit.settings import DatabaseSettings

if TYPE_CHECKING:  # servicekit.migrations makes its connections with this module
    from servicekit.migrations import Migrations

__all__ = ["Database", "database_error", "psycopg_connection"]

log = structlog.get_logger(__name__)


def create_sqlite_folder(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class Limits:
    """How long the database may take: to connect (and to hand out a pooled connection), to run one
    statement, and to wait for a lock."""

    connect_seconds: float
    statement_seconds: float = 15.0
    lock_seconds: float = 5.0


def connect_arguments(database_url: str, limits: Limits, application_name: str) -> dict[str, Any]:
    """The driver's arguments for a connection under `limits`, named `application_name` in pg_stat_activity."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return {"timeout": limits.connect_seconds}  # SQLite's only wait is for another writer's lock
    return {
        "connect_timeout": math.ceil(limits.connect_seconds),
        "application_name": application_name,
        # Every statement, on every connection, ends by itself; a download sets its own, longer limit.
        "options": f"-c statement_timeout={_ms(limits.statement_seconds)} -c lock_timeout={_ms(limits.lock_seconds)}",
        # A database host that vanished (failover, a dropped NAT entry) is noticed within 25 s (10 s idle,
        # then 3 probes 5 s apart), not after the kernel's two hours, so no request waits on a dead socket.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        # And one whose sends go unacknowledged that long (a link cut while a statement is on its way).
        "tcp_user_timeout": 25_000,
    }


def _pooled_engine(
    database_url: str, limits: Limits, application_name: str, pool_size: int, *, read_only: bool = False
) -> Engine:
    """`read_only`: every transaction begins READ ONLY, as a hot standby requires (a pooled connection
    that a READ ONLY block handed back would otherwise begin its next one READ WRITE, which it refuses)."""
    return create_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=limits.connect_seconds,
        pool_pre_ping=True,
        connect_args=connect_arguments(database_url, limits, application_name),
        execution_options={"postgresql_readonly": True} if read_only else {},
    )


def _ms(seconds: float) -> int:
    """Whole milliseconds, rounded up: PostgreSQL reads 0 as no limit at all. Through the decimal the
    setting was written as, so that 2.007 s is 2007 ms, not the 2008 its binary float would round up to."""
    return math.ceil(Decimal(repr(seconds)) * 1000)


def set_statement_timeout(connection: Connection, seconds: float) -> None:
    """Give the current transaction's statements `seconds` instead of the connection's limit (PostgreSQL;
    SQLite has no such limit)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SET LOCAL statement_timeout = {_ms(seconds)}"))


def psycopg_connection(connection: Connection) -> psycopg.Connection[Any]:
    """The driver's own connection under SQLAlchemy's, for what only psycopg does (COPY)."""
    driver_connection = connection.connection.driver_connection
    assert isinstance(driver_connection, psycopg.Connection)
    return driver_connection


def database_error(exc: SQLAlchemyError) -> str:
    """What the database said, in one line: SQLAlchemy's own message adds the statement and its parameters,
    which may hold personal data, and the driver's DETAIL lines may quote the rows."""
    said = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = str(said).strip().splitlines()
    return lines[0] if lines else type(said).__name__


# How far the replica's data is behind the primary's, in seconds: 0 while it has replayed all it received
# (an idle primary sends nothing, and the last replayed transaction's age would only measure the idleness).
REPLICA_LAG = """
SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS read_replica_lag_seconds
"""


# What `/readyz` shows of a database it could not ask: refused, dropped, or no answer within the timeout.
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Readiness:
    """Why the pod cannot serve requests (None when it can), and what `/readyz` shows beside: the state of
    each database and what the details queries found."""

    reason: str | None
    details: dict[str, Any] = field(default_factory=dict)


def _shown(names: list[str], row: Any) -> dict[str, Any]:
    """A row as JSON shows it: times in ISO 8601, in UTC as the database returns them."""
    values = row if row is not None else [None] * len(names)
    return {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in zip(names, values, strict=True)
    }


class Database:
    """The service's database: a pool for the primary (and one for a read replica when `DATABASE_READ_URL`
    names one), its sessions, readiness, and the watch that cuts a hung server's connections."""

    def __init__(
        self,
        database_url: str,
        migrations: Migrations,
        *,
        timeout_seconds: float,
        application_name: str,
        statement_timeout_seconds: float = 15.0,
        lock_timeout_seconds: float = 5.0,
        pool_size: int = 10,
        readiness_details: str | None = None,
        read_url: str = "",
    ) -> None:
        """`pool_size`: as many as Flask's worker threads (each may want a connection at once; a bigger
        pool would only hold idle connections); `readiness_details`: a query whose one row `/readyz`
        shows beside its status (when the data was last refreshed, say); `read_url`: a streaming replica
        that `read_session()` and downloads read from (empty: the primary)."""
        self.readiness_details = readiness_details
        create_sqlite_folder(database_url)
        self.timeout_seconds = timeout_seconds
        limits = Limits(timeout_seconds, statement_timeout_seconds, lock_timeout_seconds)
        self.engine: Engine = _pooled_engine(database_url, limits, application_name, pool_size)
        # Pools fill on demand: with a replica, the primary's holds only the connections writes use.
        self.read_engine = (
            _pooled_engine(read_url, limits, application_name, pool_size, read_only=True) if read_url else self.engine
        )
        # Readiness connects on its own, so that requests holding every pooled connection never make a
        # busy pod look dead to Kubernetes.
        connect_args = connect_arguments(database_url, limits, application_name)
        self._readiness_engine = create_engine(database_url, poolclass=NullPool, connect_args=connect_args)
        self._readiness_connect_args = connect_args | {"application_name": f"{application_name} readiness"}
        pools = {"database": self.engine} | ({"read_replica": self.read_engine} if self.has_replica else {})
        watch_args = connect_args | {"application_name": f"{application_name} watch"}
        self._watches = [
            DatabaseWatch(engine, watch_args, timeout_seconds, name=name)
            for name, engine in pools.items()
            if engine.dialect.name == "postgresql"
        ]
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self._migration_heads = migrations.heads()
        self._reads_at = (read_url or database_url, limits, application_name, bool(read_url))
        self._more_read_pools: list[Engine] = []

    @classmethod
    def from_settings(
        cls, settings: DatabaseSettings, migrations: Migrations, *, readiness_details: str | None = None
    ) -> Database:
        """The service's Database: its statements end within DATABASE_STATEMENT_TIMEOUT_SECONDS."""
        return cls._configured(
            settings,
            migrations,
            settings.database_statement_timeout_seconds,
            settings.service_name,
            readiness_details=readiness_details,
        )

    @classmethod
    def for_command(cls, settings: DatabaseSettings, migrations: Migrations) -> Database:
        """A Database for a service's own command-line work (a seed, a sync): its statements may run for
        COMMAND_STATEMENT_TIMEOUT_SECONDS, long, instead of a request's. Its lock waits stay a request's
        (DATABASE_LOCK_TIMEOUT_SECONDS), so that a command never queues the service's readers behind it."""
        return cls._configured(
            settings, migrations, settings.command_statement_timeout_seconds, f"{settings.service_name} command"
        )

    @classmethod
    def _configured(
        cls,
        settings: DatabaseSettings,
        migrations: Migrations,
        statement_timeout_seconds: float,
        application_name: str,
        *,
        readiness_details: str | None = None,
    ) -> Database:
        return cls(
            settings.database_url,
            migrations,
            timeout_seconds=settings.database_timeout_seconds,
            application_name=application_name,
            statement_timeout_seconds=statement_timeout_seconds,
            lock_timeout_seconds=settings.database_lock_timeout_seconds,
            pool_size=settings.worker_threads,
            readiness_details=readiness_details,
            read_url=settings.database_read_url,
        )

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def has_replica(self) -> bool:
        return self.read_engine is not self.engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the primary that commits when the block ends cleanly and rolls back when it raises."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads: on the replica when there is one, which may lag the primary by moments."""
        with self.read_sessions.begin() as session:
            yield session

    def unready_reason(self) -> str | None:
        """Why the database cannot serve requests yet, or None when it can (blocking)."""
        with self._readiness_engine.connect() as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
        return self._schema_reason(current)

    async def check_readiness(self) -> Readiness:
        """`unready_reason()` without a thread, and the details: on PostgreSQL an asyncio connection of its
        own to each database, at once, each ended at `timeout_seconds` and its connection closed.
        Only a schema that is not at head makes the pod unready: a database that cannot be asked is
        reported as unavailable, since it is so for every pod alike and the requests that need it get a
        503 of their own. SQLite, local only, answers at once."""
        if self.engine.dialect.name != "postgresql":
            return self._embedded_readiness()
        checks = [self._bounded_readiness("database", self.engine, self.readiness_details)]
        if self.has_replica:
            checks.append(self._bounded_readiness("read_replica", self.read_engine, REPLICA_LAG))
        found = await asyncio.gather(*checks)
        reasons = [readiness.reason for readiness in found if readiness.reason is not None]
        details = {name: value for readiness in found for name, value in readiness.details.items()}
        return Readiness(reasons[0] if reasons else None, details)

    async def _bounded_readiness(self, name: str, engine: Engine, details_query: str | None) -> Readiness:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_seconds
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            async with asyncio.timeout_at(deadline):  # connecting is cancelled at once
                connection = await psycopg.AsyncConnection.connect(url, **self._readiness_connect_args)
            # Past the deadline its socket is shut down, not its query cancelled (servicekit.database_watch
            # says why), so that the check ends then on a database that stopped answering meanwhile.
            timer = loop.call_at(deadline, shut_down, connection)
            try:
                async with connection:
                    readiness = await self._postgresql_readiness(connection, details_query)
            finally:
                timer.cancel()
        except (TimeoutError, psycopg.Error, OSError) as error:
            log.warning(
                "database unavailable to the readiness check",
                database=name,
                error=str(error) or type(error).__name__,
                timed_out=loop.time() >= deadline,
            )
            return Readiness(None, {name: UNAVAILABLE})
        label = "" if engine is self.engine else "read replica: "
        reason = None if readiness.reason is None else label + readiness.reason
        return Readiness(reason, {name: "ok", **readiness.details})

    async def watch(self) -> None:
        """Ends the waits of requests on a database that stopped answering (servicekit.database_watch),
        until cancelled; nothing to do on SQLite, which cannot hang on a peer."""
        await asyncio.gather(*(watch.run() for watch in self._watches))

    async def _postgresql_readiness(
        self, connection: psycopg.AsyncConnection[Any], details_query: str | None
    ) -> Readiness:
        versioned = await (await connection.execute("SELECT to_regclass('alembic_version')")).fetchone()
        if versioned is None or versioned[0] is None:
            return Readiness(self._schema_reason(frozenset()))
        cursor = await connection.execute("SELECT version_num FROM alembic_version")
        reason = self._schema_reason(frozenset(row[0] for row in await cursor.fetchall()))
        if reason is not None or details_query is None:
            return Readiness(reason)
        details = await connection.execute(details_query)
        row = await details.fetchone()
        names = [column.name for column in details.description or ()]
        return Readiness(None, _shown(names, row))

    def _embedded_readiness(self) -> Readiness:
        reason = self.unready_reason()
        if reason is not None or self.readiness_details is None:
            return Readiness(reason, {"database": "ok"})
        with self._readiness_engine.connect() as connection:
            result = connection.exec_driver_sql(self.readiness_details)
            return Readiness(None, {"database": "ok", **_shown(list(result.keys()), result.fetchone())})

    def _schema_reason(self, current: frozenset[str]) -> str | None:
        if current == self._migration_heads:
            return None
        return (
            f"database schema is at {sorted(current) or 'no revision'}, "
            f"the service needs {sorted(self._migration_heads)}: run `python run.py migrate`"
        )

    def read_pool(self, size: int, purpose: str) -> Engine:
        """Another pool of up to `size` connections to where reads go (the replica when there is one), set up
        as the service's own and disposed of with them; its connections' application_name adds `purpose`."""
        url, limits, application_name, read_only = self._reads_at
        engine = _pooled_engine(url, limits, f"{application_name} {purpose}", size, read_only=read_only)
        self._more_read_pools.append(engine)
        for watch in self._watches:  # a hung server's connections are cut in this pool too
            if watch.engine is self.read_engine:
                watch.also(engine)
        return engine

    def connections_out(self) -> int:
        """How many connections of the service's pools (the reads' own ones too) are checked out now."""
        engines = {self.engine, self.read_engine, *self._more_read_pools}
        return sum(engine.pool.checkedout() for engine in engines)  # type: ignore[attr-defined]

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
        self._readiness_engine.dispose()
        for engine in self._more_read_pools:
            engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        """Disposes of the pools, for a command's Database (`with Database.for_command(...) as database:`):
        its connections close when the work ends, whether it ends well or raises."""
        self.dispose()
