"""Autovacuum for `premises` at 2% of its rows rather than PostgreSQL's 20%.

The export walks `premises` by community: at the default, a million-row table carries up to 200,000 dead rows
for that walk to read past, and up to 100,000 changed ones before its statistics are taken again. With its
visibility map current as well (the insert threshold), an index walk can skip the heap's pages altogether.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None

SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.02",
    "autovacuum_vacuum_insert_scale_factor": "0.02",
    "autovacuum_analyze_scale_factor": "0.01",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite has no autovacuum
        settings = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
        op.execute(f"ALTER TABLE premises SET ({settings})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE premises RESET ({', '.join(SETTINGS)})")
