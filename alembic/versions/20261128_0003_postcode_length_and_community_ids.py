"""Postcodes keep their 8-character limit under the "C" collation; community ids continue past explicit ones.

Revision 0002 gave PostgreSQL an unbounded postcode: its collation variant was built without the length.
Communities inserted with explicit ids (the demo data, Salesforce's) left the id sequence behind them, so
the next community inserted without an id collided with them.

The segment check needs no change: 0002 wrote it as the same SQL the models now build from an expression.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

# SQLite has nothing to fix: 0002 gave it VARCHAR(8), since the collation variant is PostgreSQL's only;
# its default BINARY collation already orders by code point; and an INTEGER PRIMARY KEY inserted without
# a value takes the highest id plus one.


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Fails, rather than truncates, should a postcode longer than 8 characters have got in meanwhile.
        op.alter_column(
            "premises",
            "postcode",
            type_=sa.String(length=8, collation="C"),
            existing_type=sa.String(collation="C"),
            existing_nullable=False,
        )
        op.execute(
            "SELECT setval(pg_get_serial_sequence('communities', 'id'), coalesce(max(id), 0) + 1, false)"
            " FROM communities"
        )


def downgrade() -> None:
    # The id sequence stays where it is: moving it back would only bring the collisions back.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "premises",
            "postcode",
            type_=sa.String(collation="C"),
            existing_type=sa.String(length=8, collation="C"),
            existing_nullable=False,
        )
