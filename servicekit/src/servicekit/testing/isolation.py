"""Each test starts from the database as its run built it: what a test wrote, by whatever connection, thread
or process (the app's sessions, a live server, a download, a service in a subprocess), is gone after it.

A rolled-back outer transaction cannot do this: downloads read on connections of their own, live servers
serve many threads at once, and a subprocess shares no connection at all. So the service's tables (those
its migrations made, less `alembic_version` and the tables extensions such as PostGIS own) are put back to
the run's baseline (what the migrations and any seeding left) after each test, and only those a test
changed: a table's row count and newest row version (`xmin`) change with every committed insert, update
or delete. Its sequences are wound back too, so ids do not depend on which tests ran before. What a
fixture wider than a test (a module's, a class's) writes before a test is taken into the baseline, so that
each of its tests finds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from servicekit.testing.databases import libpq_url

BASELINE_SCHEMA = "servicekit_baseline"  # the baseline's copies, in the test database itself
LOCK_TIMEOUT = "10s"  # a connection still reading a table after its test (a download left streaming) fails the test

SERVICE_TABLES = """
SELECT c.oid::regclass::text, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'alembic_version'
  AND n.nspname NOT IN ('information_schema', %(baseline)s) AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
ORDER BY 1
"""

REFERENCES = """
SELECT confrelid::regclass::text, conrelid::regclass::text FROM pg_constraint
WHERE contype = 'f' AND confrelid <> conrelid
"""

SEQUENCES = """
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.nspname NOT IN ('information_schema', %(baseline)s) AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
"""

INSERTABLE_COLUMNS = """
SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped
  AND attgenerated = '' ORDER BY attnum
"""

Pg = psycopg.Connection[TupleRow]
Fingerprint = tuple[int, int | None]  # rows, newest row version
Position = tuple[int, bool]  # a sequence's last value, and whether it was handed out


@dataclass(frozen=True)
class Table:
    name: str  # as regclass shows it: quoted, qualified where off the search path
    copy: sql.Composable  # its baseline copy, when it had rows
    columns: tuple[str, ...]  # those an INSERT may give (not generated ones)
    rows: int


class Baseline:
    """A database's service tables and sequences as they were when taken; `restore()` puts them back."""

    def __init__(self, database_url: str) -> None:
        self.url = libpq_url(database_url)
        self.tables: dict[str, Table] = {}
        self.fingerprints: dict[str, Fingerprint] = {}
        with psycopg.connect(self.url) as connection:
            named = connection.execute(SERVICE_TABLES, {"baseline": BASELINE_SCHEMA}).fetchall()
            self.names = {name: sql.Identifier(schema, table) for name, schema, table in named}
            self.referencing = _referencing(connection.execute(REFERENCES).fetchall())
            self.sequence_names = [name for (name,) in connection.execute(SEQUENCES, {"baseline": BASELINE_SCHEMA})]
            self._take(connection, list(self.names))

    def update(self) -> None:
        """Takes in what was written since the last `restore()`: a fixture wider than a test (a module's,
        say) seeds rows for each of its tests, which are then put back to it."""
        with psycopg.connect(self.url) as connection:
            changed = self._changed(connection)
            if changed or self._positions(connection) != self.sequences:
                self._take(connection, changed)

    def _take(self, connection: Pg, names: list[str]) -> None:
        for name in names:
            self.tables[name] = self._copied(connection, name)
        self.sequences = self._positions(connection)
        self.fingerprints |= self._fingerprints(connection, names)

    def _changed(self, connection: Pg) -> list[str]:
        now = self._fingerprints(connection, self.names)
        return [name for name, fingerprint in now.items() if fingerprint != self.fingerprints[name]]

    def _copied(self, connection: Pg, name: str) -> Table:
        row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(self.names[name])).fetchone()
        rows = int(row[0]) if row else 0
        # Not the table's own name: a test looking a table up by name (information_schema) finds it alone.
        copy = sql.Identifier(BASELINE_SCHEMA, f"baseline of {name}")
        columns = tuple(column for (column,) in connection.execute(INSERTABLE_COLUMNS, (name,)))
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(BASELINE_SCHEMA)))
        connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(copy))
        if rows:
            connection.execute(sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(copy, self.names[name]))
        return Table(name, copy, columns, rows)

    def _positions(self, connection: Pg) -> dict[str, Position]:
        if not self.sequence_names:
            return {}
        read = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {}, last_value, is_called FROM {}").format(sql.Literal(name), sql.SQL(name))
            for name in self.sequence_names
        )
        return {name: (last, called) for name, last, called in connection.execute(read)}

    def _fingerprints(self, connection: Pg, tables: Iterable[str]) -> dict[str, Fingerprint]:
        names = list(tables)
        if not names:
            return {}
        counted = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {}, count(*), max(xmin::text::bigint) FROM {}").format(
                sql.Literal(name), sql.SQL(name)  # a regclass name: already quoted as PostgreSQL wants it
            )
            for name in names
        )
        return {name: (int(rows), newest) for name, rows, newest in connection.execute(counted)}

    def restore(self) -> None:
        """Puts back, in one transaction, every table and sequence changed since the baseline was taken."""
        with psycopg.connect(self.url) as connection:
            connection.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
            changed = self._changed(connection)
            if changed:
                self._refill(connection, self._with_referencing(changed))
            for name, position in self._positions(connection).items():
                if position != self.sequences[name]:
                    connection.execute("SELECT setval(%s, %s, %s)", (name, *self.sequences[name]))

    def _with_referencing(self, changed: list[str]) -> list[str]:
        """`changed` and every table whose foreign keys point into them, which TRUNCATE must empty alongside."""
        found, todo = set(changed), list(changed)
        while todo:
            for referrer in self.referencing.get(todo.pop(), ()):
                if referrer in self.tables and referrer not in found:
                    found.add(referrer)
                    todo.append(referrer)
        return sorted(found)

    def _refill(self, connection: Pg, names: list[str]) -> None:
        connection.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.SQL(name) for name in names)))
        refilled = [self.tables[name] for name in names if self.tables[name].rows]
        if refilled:
            # The copies go back as they were: no trigger fires, no foreign key is checked row by row.
            connection.execute("SET LOCAL session_replication_role = replica")
        for table in refilled:
            columns = sql.SQL(", ").join(map(sql.Identifier, table.columns))
            connection.execute(
                sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
                    sql.SQL(table.name), columns, columns, table.copy
                )
            )
            # The planner's statistics, as the seeding left them (TRUNCATE resets them).
            connection.execute(sql.SQL("ANALYZE {}").format(sql.SQL(table.name)))
        self.fingerprints |= self._fingerprints(connection, names)


def _referencing(references: list[tuple[str, str]]) -> dict[str, set[str]]:
    referencing: dict[str, set[str]] = {}
    for referenced, referrer in references:
        referencing.setdefault(referenced, set()).add(referrer)
    return referencing
