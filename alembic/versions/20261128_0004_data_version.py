"""A version of the mailing-list data, moved on by every write to communities or premises.

What is worked out from the data (a summary's counts) can then be kept for as long as the version stands,
and is never served once the data under it has changed, whoever changed it: the service, the Salesforce
sync, a bulk load or someone with psql.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

TABLES = ("communities", "premises")


def upgrade() -> None:
    op.create_table("data_version", sa.Column("version", sa.BigInteger(), nullable=False))
    op.execute("INSERT INTO data_version (version) VALUES (0)")
    if op.get_bind().dialect.name == "postgresql":
        # Once per statement: a bulk load of a million rows moves the version once.
        op.execute(
            "CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN UPDATE data_version SET version = version + 1; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_bump_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
            )
        return
    for table in TABLES:  # SQLite's triggers run for each row
        for event in ("INSERT", "UPDATE", "DELETE"):
            trigger = f"CREATE TRIGGER {table}_bump_data_version_on_{event.lower()} AFTER {event} ON {table}"
            op.execute(trigger + " BEGIN UPDATE data_version SET version = version + 1; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_bump_data_version ON {table}")
        op.execute("DROP FUNCTION bump_data_version()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_bump_data_version_on_{event}")
    op.drop_table("data_version")
