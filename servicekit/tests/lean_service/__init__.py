"""The fixture service's migrations as a service with no alembic file of its own keeps them: a revisions
folder and the models' `MetaData`, run by the kit's alembic environment (`Migrations.of`). The kit's tests
run each migration test on both forms."""

from __future__ import annotations

from sqlalchemy import Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit import Migrations
from tests.fixture_service import ROOT as FIXTURE_ROOT

REVISIONS = FIXTURE_ROOT / "migrations" / "versions"


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)


def modelled(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Only the tables the models declare are compared: the fixture's others (the audit trail's, the
    notices, PostGIS's own) have no model here."""
    return not (type_ == "table" and reflected and compare_to is None)


MIGRATIONS = Migrations.of(REVISIONS, Base.metadata, include_object=modelled)
