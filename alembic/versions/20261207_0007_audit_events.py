"""The audit trail's table, as servicekit declares it: one row for each access to a mailing list.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from servicekit.audit_store import create_audit_events_table, drop_audit_events_table

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_events_table()


def downgrade() -> None:
    drop_audit_events_table()
