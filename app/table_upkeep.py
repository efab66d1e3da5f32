"""Upkeep after bulk writes: dead rows reclaimed, the visibility map set and the planner's statistics fresh,
at once rather than whenever autovacuum gets round to it.

The export walks `premises` by community: a table full of dead rows, or with statistics from before a load,
makes that walk read far more pages than the rows it sends, or makes the planner pick a worse one.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from servicekit.database import database_error

log = structlog.get_logger("directmail.upkeep")


def vacuum_analyse(engine: Engine, tables: Sequence[str]) -> None:
    """`VACUUM (ANALYZE)` of `tables` on PostgreSQL (SQLite: `ANALYZE`), under the engine's statement timeout.
    Run after the writes committed, so a failure here loses nothing: it is logged, and autovacuum gets
    there in its own time."""
    try:
        if engine.dialect.name == "postgresql":
            # VACUUM refuses to run inside a transaction block.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(tables)}")
        else:
            with engine.begin() as connection:
                for table in tables:
                    connection.exec_driver_sql(f"ANALYZE {table}")
    except SQLAlchemyError as exc:
        log.warning("tables not vacuumed", tables=list(tables), error=database_error(exc))
