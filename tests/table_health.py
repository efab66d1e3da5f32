"""What a table holds besides its rows, read from PostgreSQL itself: dead rows counted on the pages
(pgstattuple, not the statistics collector's running tally, which a backend reports when it likes) and what
the last VACUUM left."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import create_engine, text


@dataclass(frozen=True)
class TableHealth:
    rows: int
    dead_rows: int
    vacuums: int  # VACUUMs run by hand (or by a command), not autovacuum's
    all_visible: bool  # every page in the visibility map: an index-only scan never visits the heap
    estimated_rows: int  # the planner's reltuples


def table_health(database_url: str, table: str) -> TableHealth:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
            row = connection.execute(
                text(
                    "SELECT s.tuple_count, s.dead_tuple_count, u.vacuum_count, c.relallvisible = c.relpages,"
                    " c.reltuples::bigint"
                    " FROM pgstattuple(:table) s, pg_stat_user_tables u, pg_class c"
                    " WHERE u.relid = CAST(:table AS regclass) AND c.oid = CAST(:table AS regclass)"
                ),
                {"table": table},
            ).one()
    finally:
        engine.dispose()
    return TableHealth(*row)
