"""Communities synced from Salesforce: a community gone from Salesforce is retired rather than deleted
while premises refer to it, and each successful sync is recorded with when it finished.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, on SQLite too: a batch rebuild would drop 0004's triggers on the table.
    op.add_column(
        "communities",
        sa.Column(
            "retired_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When it went from Salesforce: kept for its premises, in no list",
        ),
    )
    op.create_table(
        "salesforce_syncs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("salesforce_syncs")
    op.drop_column("communities", "retired_at")
