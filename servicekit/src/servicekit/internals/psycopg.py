"""psycopg's internals the kit relies on: the error a result stands for, which `servicekit.copy_out`
raises for a COPY it reads off libpq itself (`Connection.pgconn`, which psycopg documents)."""

from __future__ import annotations

from servicekit.internals import Internals

PSYCOPG = Internals("psycopg")

with PSYCOPG.imported():
    from psycopg.errors import error_from_result

__all__ = ["error_from_result"]
