"""The audit trail's table, as the kit declares it.

Revision ID: 0002
"""

from servicekit.audit_store import create_audit_events_table, drop_audit_events_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_events_table()


def downgrade() -> None:
    drop_audit_events_table()
