"""Outage notices: a table with each kind of constraint a service's writes may break (unique, exclusion on
PostgreSQL, foreign key, not-null, check), for the kit's tests of how a violation is answered.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", sa.Uuid, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("contact", sa.Text),
        sa.Column("link", sa.Text),
        sa.Column("area", sa.Integer, nullable=False),
        sa.Column("published_on", sa.Date),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note_id", sa.Integer, sa.ForeignKey("notes.id", name="notices_note_id_fkey")),
        sa.UniqueConstraint("reference", name="notices_reference_key"),
        sa.CheckConstraint("ends_at > starts_at", name="notices_end_after_start"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # One notice at a time for an area: what only an exclusion constraint can say.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE notices ADD CONSTRAINT notices_one_at_a_time_per_area"
            " EXCLUDE USING gist (area WITH =, tstzrange(starts_at, ends_at) WITH &&)"
        )


def downgrade() -> None:
    op.drop_table("notices")
