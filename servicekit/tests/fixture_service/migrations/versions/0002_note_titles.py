"""Notes get a title: a column added to a table readers use, as most migrations do (the kit's tests
run it while an export holds the table).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notes", sa.Column("title", sa.Text))


def downgrade() -> None:
    op.drop_column("notes", "title")
