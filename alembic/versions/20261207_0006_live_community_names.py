"""A community's name is unique among live communities only: a retired community keeps its name for its
premises without holding it against a new or renamed one. Each sync also records how many communities
it deleted (gone from Salesforce, with no premises) apart from those it retired.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None

LIVE = sa.text("retired_at IS NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("communities_name_key", "communities", type_="unique")
    else:
        # SQLite drops a table constraint only by rebuilding the table, which drops its triggers too.
        with op.batch_alter_table("communities") as batch:
            batch.drop_constraint("communities_name_key", type_="unique")
        _recreate_sqlite_triggers()
    op.create_index(
        "communities_name_live", "communities", ["name"], unique=True, postgresql_where=LIVE, sqlite_where=LIVE
    )
    op.add_column("salesforce_syncs", sa.Column("deleted", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("salesforce_syncs", "deleted")
    op.drop_index("communities_name_live", table_name="communities")
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint("communities_name_key", "communities", ["name"])
    else:
        with op.batch_alter_table("communities") as batch:
            batch.create_unique_constraint("communities_name_key", ["name"])
        _recreate_sqlite_triggers()


def _recreate_sqlite_triggers() -> None:
    """Migration 0004's triggers on communities, as it made them on SQLite."""
    for event in ("INSERT", "UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER communities_bump_data_version_on_{event.lower()} AFTER {event} ON communities"
            " BEGIN UPDATE data_version SET version = version + 1; END"
        )
