"""Communities (synced from Salesforce) and the premises in them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def spatial(geometry_type: str) -> sa.types.TypeEngine[str]:
    """PostGIS geometry in British National Grid on PostgreSQL, EWKT text on SQLite."""
    return sa.Text().with_variant(Geometry(geometry_type, srid=27700, spatial_index=False), "postgresql")


def binary_ordered(text_type: sa.types.TypeEngine[str]) -> sa.types.TypeEngine[str]:
    """Code point order on PostgreSQL too, as on SQLite: both export in the same order."""
    return text_type.with_variant(type(text_type)(collation="C"), "postgresql")  # type: ignore[call-arg]


def upgrade() -> None:
    op.create_table(
        "communities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("salesforce_id", sa.String(length=18), nullable=False),
        sa.Column(
            "name", binary_ordered(sa.Text()), nullable=False, comment="The friendly name, as it appears in Salesforce"
        ),
        sa.Column("rfs", sa.Boolean(), nullable=False, comment="Ready for service"),
        sa.Column("rfs_date", sa.Date(), nullable=True),
        sa.Column("boundary", spatial("MULTIPOLYGON"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("communities_pkey")),
        sa.UniqueConstraint("name", name=op.f("communities_name_key")),
        sa.UniqueConstraint("salesforce_id", name=op.f("communities_salesforce_id_key")),
    )
    op.create_table(
        "premises",
        sa.Column("uprn", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address_line_1", sa.Text(), nullable=False),
        sa.Column("address_line_2", sa.Text(), nullable=True),
        sa.Column("address_line_3", sa.Text(), nullable=True),
        sa.Column("town", sa.Text(), nullable=False),
        sa.Column("postcode", binary_ordered(sa.String(length=8)), nullable=False),
        sa.Column("business", sa.Boolean(), nullable=False),
        sa.Column("bduk", sa.Boolean(), nullable=False, comment="In a Building Digital UK funded intervention area"),
        sa.Column("segment", sa.String(length=2), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("location", spatial("POINT"), nullable=True),
        sa.CheckConstraint("segment IN ('S1', 'S2', 'S3', 'S4', 'S5')", name=op.f("premises_segment_known")),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"], name=op.f("premises_community_id_fkey")),
        sa.PrimaryKeyConstraint("uprn", name=op.f("premises_pkey")),
    )
    op.create_index("premises_community_postcode_uprn", "premises", ["community_id", "postcode", "uprn"])


def downgrade() -> None:
    op.drop_index("premises_community_postcode_uprn", table_name="premises")
    op.drop_table("premises")
    op.drop_table("communities")
