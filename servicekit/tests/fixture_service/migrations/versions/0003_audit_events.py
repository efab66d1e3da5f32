"""The audit trail's table, as the kit declares it.

Revision ID: 0003
"""

from servicekit.audit_store import create_audit_events_table, drop_audit_events_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_events_table()


def downgrade() -> None:
    drop_audit_events_table()
