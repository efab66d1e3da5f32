"""A service's alembic migrations, run so that they cannot block the service.

A service keeps its revisions in a folder and hands the kit its models' `MetaData`
(`Migrations.of(versions, metadata)`): the kit's own alembic environment (`env.py`, `script.py.mako`)
runs them. A service with an `alembic.ini` of its own (`Migrations(alembic_ini)`) has its `env.py` call
`run_migrations()` instead. Either way `Migrations.upgrade()` (`python run.py migrate`, the deployment's
migration Job) opens the connection itself and hands it to the environment. On PostgreSQL:

- one run at a time: a run holds a session-level advisory lock, and a second one waits for it (no longer
  than a statement may run), then finds nothing left to do;
- each migration is a transaction of its own, whose statements wait at most the migration lock timeout
  for a lock. An `ALTER TABLE` queued behind a long export would queue every new reader of that table
  behind itself; giving up lets them through. The migration is rolled back whole and tried again after a
  pause that doubles, and the run fails with `MigrationBlocked` once its attempts are spent;
- statements may run for the command statement timeout, long, not a request's.

SQLite (the embedded database, local only) has no advisory lock or lock timeout: its migrations just run.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from psycopg import errors
from sqlalchemy import Connection, MetaData, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from servicekit.database import Limits, connect_arguments, create_sqlite_folder
from servicekit.settings import DatabaseSettings, load_settings

__all__ = ["Migrations", "run_migrations"]

# The alembic environment of `Migrations.of()`: shipped inside the package, beside this module.
KIT_ENVIRONMENT = Path(__file__).resolve().parent / "alembic_environment"
# Revision files named by date first, so that a folder lists them in the order they were written.
FILE_TEMPLATE = "%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s"
# Formatters a written revision goes through, each when installed: the service's own settings apply.
FORMATTERS = {"ruff": "check --fix --quiet REVISION_SCRIPT_FILENAME", "black": "--quiet REVISION_SCRIPT_FILENAME"}

# pg_advisory_lock's key: any constant no other lock of the database uses ("SKMG": servicekit, migrate).
MIGRATION_LOCK = 0x534B4D47
LONGEST_PAUSE_SECONDS = 60.0

log = structlog.get_logger(__name__)


class MigrationBlocked(Exception):
    """A run that could not get its locks: the migration it was on is not applied; the message says why."""


@dataclass(frozen=True)
class MigrationLimits:
    """How long a run may take to connect, to run one statement (and to wait for another run), and to
    wait for one lock before it gives way to the service's readers; and how many times it tries."""

    connect_seconds: float = 2.0
    statement_seconds: float = 3600.0
    lock_seconds: float = 3.0
    attempts: int = 5

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> MigrationLimits:
        return cls(
            connect_seconds=settings.database_timeout_seconds,
            statement_seconds=settings.command_statement_timeout_seconds,
            lock_seconds=settings.migration_lock_timeout_seconds,
            attempts=settings.migration_attempts,
        )

    @property
    def connection(self) -> Limits:
        return Limits(self.connect_seconds, self.statement_seconds, self.lock_seconds)

    def pause(self, attempt: int) -> float:
        """The pause after attempt number `attempt` gave way: the lock timeout, doubling, at most a minute,
        so that readers get the table between attempts and a short blocker has ended by the next."""
        return min(self.lock_seconds * 2.0 ** (attempt - 1), LONGEST_PAUSE_SECONDS)


class Migrations:
    """A service's alembic migrations: `Migrations.of(versions, metadata)` for its revisions folder and
    models, run by the kit's alembic environment; or `Migrations(alembic_ini)` for a service with an
    `alembic.ini` and an `env.py` of its own, which calls `run_migrations()`."""

    def __init__(self, alembic_ini: Path) -> None:
        self._alembic_config: Callable[[], Config] = partial(Config, str(alembic_ini))

    @classmethod
    def of(cls, versions: Path, metadata: MetaData, **options: Any) -> Migrations:
        """The migrations in the folder `versions` of a service whose tables are `metadata`'s, with no
        alembic file of its own; `options` go to alembic's `context.configure` (`include_object`, ...)."""
        migrations = cls.__new__(cls)
        migrations._alembic_config = partial(_kit_config, versions, metadata, options)
        return migrations

    def config(self, database_url: str) -> Config:
        """Alembic's configuration for `database_url`, for alembic's own commands too (a test's
        `command.downgrade`): the environment then connects by itself, under the lock."""
        config = self._alembic_config()
        config.attributes["database_url"] = database_url
        return config

    def upgrade(
        self,
        database_url: str,
        revision: str = "head",
        *,
        limits: MigrationLimits = MigrationLimits(),
        application_name: str = "migrate",
    ) -> None:
        """Upgrade the database to `revision` (a service's `migrate` command and the tests use this).
        Raises `MigrationBlocked` when it gave way to the service's readers `limits.attempts` times."""
        config = self.config(database_url)
        with migration_connection(database_url, limits, application_name) as connection:
            config.attributes["connection"] = connection
            _upgrade_giving_way(config, connection, revision, limits)

    def write_revision(
        self,
        database_url: str,
        message: str,
        *,
        autogenerate: bool = False,
        limits: MigrationLimits = MigrationLimits(),
        application_name: str = "revision",
    ) -> Path:
        """Writes a new revision file and answers its path: empty, or `autogenerate`d from what the models
        have and the database at `database_url` lacks, once that database is upgraded to head. Ruff and
        black, where installed, format it (an `alembic.ini` naming its own `post_write_hooks` keeps them)."""
        config = _with_formatters(self.config(database_url))
        if not autogenerate:
            return _written(command.revision(config, message))
        with migration_connection(database_url, limits, application_name) as connection:
            config.attributes["connection"] = connection
            _upgrade_giving_way(config, connection, "head", limits)
            return _written(command.revision(config, message, autogenerate=True))

    def heads(self) -> frozenset[str]:
        return frozenset(ScriptDirectory.from_config(self._alembic_config()).get_heads())


def _kit_config(versions: Path, metadata: MetaData, options: dict[str, Any]) -> Config:
    config = Config(attributes={"target_metadata": metadata, "configure_options": options})
    for name, value in {
        "script_location": str(KIT_ENVIRONMENT),
        "version_locations": str(versions),
        "path_separator": "os",
        "file_template": FILE_TEMPLATE,
    }.items():
        config.set_main_option(name, value.replace("%", "%%"))  # the option is interpolated when read
    return config


def _with_formatters(config: Config) -> Config:
    if config.file_config.has_section("post_write_hooks"):
        return config
    installed = [name for name in FORMATTERS if importlib.util.find_spec(name)]
    config.set_section_option("post_write_hooks", "hooks", " ".join(installed))
    for name in installed:
        config.set_section_option("post_write_hooks", f"{name}.type", "module")
        config.set_section_option("post_write_hooks", f"{name}.module", name)
        config.set_section_option("post_write_hooks", f"{name}.options", FORMATTERS[name])
    return config


def _written(script: Script | list[Script | None] | None) -> Path:
    assert isinstance(script, Script), "one revision, in one versions folder"
    return Path(script.path)


@contextmanager
def migration_connection(database_url: str, limits: MigrationLimits, application_name: str) -> Iterator[Connection]:
    """A connection for migrations, outside any transaction (alembic begins one per migration), its
    statements under `limits`; on PostgreSQL it holds the migration lock until it closes."""
    create_sqlite_folder(database_url)
    engine = create_engine(
        database_url,
        poolclass=NullPool,
        connect_args=connect_arguments(database_url, limits.connection, application_name),
    )
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                _take_the_migration_lock(connection, limits)
            yield connection
    finally:
        engine.dispose()  # the connection is closed, and the session's advisory lock goes with it


def _take_the_migration_lock(connection: Connection, limits: MigrationLimits) -> None:
    with connection.begin():
        if connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK}):
            return
    log.warning(
        "another migration run holds the migration lock: waiting for it", up_to_seconds=limits.statement_seconds
    )
    try:
        with connection.begin():
            # lock_timeout covers advisory locks too; waiting here queues no reader, so only the statement
            # timeout bounds it.
            connection.execute(text("SET LOCAL lock_timeout = 0"))
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    except OperationalError as exc:
        if not isinstance(exc.orig, errors.QueryCanceled):
            raise
        raise MigrationBlocked(
            f"waited over {limits.statement_seconds:g} s for another migration run to finish"
            " (COMMAND_STATEMENT_TIMEOUT_SECONDS) and applied nothing"
        ) from None


def _upgrade_giving_way(config: Config, connection: Connection, revision: str, limits: MigrationLimits) -> None:
    started = time.monotonic()
    for attempt in range(1, limits.attempts + 1):
        try:
            command.upgrade(config, revision)
            return
        except OperationalError as exc:
            if not isinstance(exc.orig, errors.LockNotAvailable):
                raise
            connection.rollback()
        if attempt < limits.attempts:
            pause = limits.pause(attempt)
            log.warning(
                "migration gave way to the service: a lock was not free within its timeout",
                attempt=attempt,
                at_revision=_current_revision(connection),
                retry_in_seconds=pause,
            )
            time.sleep(pause)
    raise MigrationBlocked(
        f"gave up after {limits.attempts} attempts in {time.monotonic() - started:.0f} s: each time a lock stayed"
        f" taken past {limits.lock_seconds:g} s (MIGRATION_LOCK_TIMEOUT_SECONDS); the database is at revision"
        f" {_current_revision(connection)}, nothing of the next migration applied; run it again once what holds"
        " the lock has finished"
    )


def _current_revision(connection: Connection) -> str:
    heads = MigrationContext.configure(connection).get_current_heads()
    connection.rollback()  # the query began a transaction, which the next attempt must not find open
    return ", ".join(heads) or "none"


def run_migrations(
    settings_class: type[DatabaseSettings], target_metadata: MetaData | None = None, **options: Any
) -> None:
    """What the `env.py` of a service with an `alembic.ini` does: run its migrations on the connection
    `Migrations.upgrade()` hands over, each in a transaction of its own. Run by alembic's own commands
    (`command.downgrade`, `alembic revision --autogenerate`), it connects by itself, under the lock and the
    default limits, to the URL `Migrations.config()` gave or else to the service's settings' one; `alembic
    upgrade --sql` writes the SQL instead. `options` go to alembic's `context.configure` (`include_object`, ...)."""
    config = context.config
    _run(config, lambda: _database_url(config, settings_class), target_metadata, options)


def run_kit_migrations(config: Config) -> None:
    """What the kit's own `env.py` does for `Migrations.of()`: as `run_migrations()`, with the metadata,
    options and URL the `Migrations` put in alembic's configuration."""
    _run(
        config,
        lambda: str(config.attributes["database_url"]),
        config.attributes["target_metadata"],
        config.attributes["configure_options"],
    )


def _run(
    config: Config, database_url: Callable[[], str], target_metadata: MetaData | None, options: dict[str, Any]
) -> None:
    if context.is_offline_mode():
        context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    given: Connection | None = config.attributes.get("connection")
    with (
        nullcontext(given) if given is not None else migration_connection(database_url(), MigrationLimits(), "alembic")
    ) as connection:
        # Per migration: a lock one migration took is let go when it commits, not held through the rest,
        # and a retry resumes at the migration that gave way.
        context.configure(
            connection=connection, target_metadata=target_metadata, transaction_per_migration=True, **options
        )
        with context.begin_transaction():
            context.run_migrations()


def _database_url(config: Config, settings_class: type[DatabaseSettings]) -> str:
    url: str = config.attributes.get("database_url") or load_settings(settings_class).database_url
    return url
