"""Directmail's data: the communities synced from Salesforce and the premises in them.

Geometries are real PostGIS geometries on PostgreSQL (British National Grid, SRID 27700) and plain
EWKT text on the embedded SQLite, which has no spatial extension; nothing Directmail filters on is
spatial, so both databases answer the same queries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

from servicekit.audit_store import audit_events_table

BRITISH_NATIONAL_GRID = 27700
SEGMENTS = ("S1", "S2", "S3", "S4", "S5")
# The columns the mailing list writes beside the export index's key (community, postcode, UPRN).
EXPORTED_PREMISES_COLUMNS = (
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "town",
    "business",
    "bduk",
    "segment",
)


def spatial(geometry_type: str) -> TypeEngine[Any]:
    """A PostGIS geometry on PostgreSQL, EWKT text elsewhere; written as EWKT in both."""
    geometry = Geometry(geometry_type, srid=BRITISH_NATIONAL_GRID, spatial_index=False)
    return Text().with_variant(geometry, "postgresql")


def binary_ordered(text_type: String) -> TypeEngine[str]:
    """Text that sorts by code point on both databases, so both export in the same order
    (SQLite compares bytes; PostgreSQL's default collation would follow the locale)."""
    # adapt() copies every constructor argument (a String's length too) and overrides only the collation.
    code_point_order = text_type.adapt(type(text_type), collation="C")
    return text_type.with_variant(code_point_order, "postgresql")


class Base(DeclarativeBase):
    # Named constraints, so that migrations can alter them on SQLite too (batch mode rebuilds tables).
    metadata = MetaData(
        naming_convention={
            "ix": "%(table_name)s_%(column_0_N_name)s",
            "uq": "%(table_name)s_%(column_0_N_name)s_key",
            "ck": "%(table_name)s_%(constraint_name)s",
            "fk": "%(table_name)s_%(column_0_name)s_fkey",
            "pk": "%(table_name)s_pkey",
        }
    )


class Community(Base):
    __tablename__ = "communities"
    __table_args__ = (
        # A retired community keeps its name for its premises; only live ones must be told apart by name.
        Index(
            "communities_name_live",
            "name",
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
            sqlite_where=text("retired_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    salesforce_id: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(binary_ordered(Text()), comment="The friendly name, as it appears in Salesforce")
    rfs: Mapped[bool] = mapped_column(Boolean, comment="Ready for service")
    rfs_date: Mapped[dt.date | None] = mapped_column(Date)
    boundary: Mapped[str | None] = mapped_column(spatial("MULTIPOLYGON"))
    retired_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When it went from Salesforce: kept for its premises, in no list"
    )

    premises: Mapped[list[Premises]] = relationship(back_populates="community")


class Premises(Base):
    __tablename__ = "premises"
    __table_args__ = (
        # An expression, rendered with each segment as an SQL literal: the same CHECK on both databases.
        CheckConstraint(column("segment").in_(SEGMENTS), name="segment_known"),
        # The export reads a community's premises in postcode, UPRN order: this index hands them over sorted,
        # and holds every column the CSV writes, so the walk need not visit the heap (migration 0009).
        Index("premises_export", "community_id", "postcode", "uprn", postgresql_include=EXPORTED_PREMISES_COLUMNS),
    )

    uprn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address_line_1: Mapped[str] = mapped_column(Text)
    address_line_2: Mapped[str | None] = mapped_column(Text)
    address_line_3: Mapped[str | None] = mapped_column(Text)
    town: Mapped[str] = mapped_column(Text)
    postcode: Mapped[str] = mapped_column(binary_ordered(String(8)))
    business: Mapped[bool] = mapped_column(Boolean)
    bduk: Mapped[bool] = mapped_column(Boolean, comment="In a Building Digital UK funded intervention area")
    segment: Mapped[str] = mapped_column(String(2))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    location: Mapped[str | None] = mapped_column(spatial("POINT"))

    community: Mapped[Community] = relationship(back_populates="premises")


# One row: moved on by triggers (migration 0004) at every write to communities or premises, so that what is
# worked out from them can be kept until they change.
data_version = Table("data_version", Base.metadata, Column("version", BigInteger, nullable=False))


class SalesforceSync(Base):
    """A sync from Salesforce that succeeded, and what it did."""

    __tablename__ = "salesforce_syncs"

    id: Mapped[int] = mapped_column(primary_key=True)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    added: Mapped[int]
    changed: Mapped[int]
    retired: Mapped[int]
    deleted: Mapped[int] = mapped_column(server_default="0")


# The audit trail, as the kit declares it (migration 0007 creates it): on this metadata, so that alembic
# compares it with the database like the tables above.
audit_events = audit_events_table(Base.metadata)
