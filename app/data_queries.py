"""The SQL Directmail runs: the mailing list as CSV, its summary, and the communities to pick from.

The CSV is formatted by the database on both engines (text, booleans, dates, formula defences), so
PostgreSQL's COPY and SQLite's cursor produce the same bytes for the same data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    SQLColumnExpression,
    Text,
    and_,
    bindparam,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from app.data_types import Community as CommunityInfo
from app.data_types import CommunityCount, ExportFilters
from app.models import Community, Premises, data_version
from servicekit.copy_out import copied_csv

CSV_COLUMNS = (
    "uprn",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "town",
    "postcode",
    "community",
    "rfs",
    "rfs_date",
    "business",
    "bduk",
    "segment",
)
# A cell starting with one of these runs as a formula in Excel and its kin (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_CODE_POINTS = tuple(ord(start) for start in FORMULA_STARTS)

COMMUNITY_ID = "community_id"  # the parameter naming the community of `community_part`
COMMUNITY_COLUMNS = ("community", "rfs", "rfs_date")  # the CSV's columns that are its community's
CSV_HEADER = (",".join(CSV_COLUMNS) + "\n").encode()  # as COPY's HEADER writes it: no name needs quotes
AnySelect = Select[*tuple[Any, ...]]
CsvPieces = Generator[bytes, None, int]  # the CSV's bytes, then how many rows it held (its header aside)


class iso_date(FunctionElement[str]):
    """A date as YYYY-MM-DD text, whatever the server's DateStyle."""

    type = Text()
    inherit_cache = True


@compiles(iso_date, "postgresql")
def _iso_date_postgresql(element: iso_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


@compiles(iso_date)
def _iso_date_stored_as_text(element: iso_date, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)  # SQLite keeps dates as ISO text already


class first_code_point(FunctionElement[int]):
    """The code point of a text's first character: testing it against FORMULA_CODE_POINTS compares integers,
    where testing the first character as text cuts a substring and compares strings (half the export's
    formatting cost, measured)."""

    type = Integer()
    inherit_cache = True


@compiles(first_code_point, "postgresql")
def _first_code_point_postgresql(element: first_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return f"ascii({compiler.process(element.clauses, **kw)})"


@compiles(first_code_point)
def _first_code_point_sqlite(element: first_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return f"unicode({compiler.process(element.clauses, **kw)})"


def spreadsheet_safe(column: SQLColumnExpression[str | None]) -> ColumnElement[str]:
    """Text a spreadsheet shows and never runs: a leading quote disarms a formula. Empty means no value."""
    return case(
        (first_code_point(column).in_(FORMULA_CODE_POINTS), literal("'") + column), else_=func.nullif(column, "")
    )


class true_or_false(FunctionElement[str]):
    """A boolean as `true` or `false` (COPY would write `t` or `f`)."""

    type = Text()
    inherit_cache = True


@compiles(true_or_false, "postgresql")
def _true_or_false_postgresql(element: true_or_false, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"  # one cast, where a CASE tests and picks


@compiles(true_or_false)
def _true_or_false_sqlite(element: true_or_false, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CASE WHEN {compiler.process(element.clauses, **kw)} THEN 'true' ELSE 'false' END"


def mailing_list(filters: ExportFilters) -> AnySelect:
    """The mailing list's rows as one statement, in CSV_COLUMNS order, sorted by community, postcode and
    UPRN: what the list is (the export walks it a community at a time, `mailing_list_pieces`)."""
    statement = _mailing_list_rows(_community_columns()).join_from(
        Premises, Community, Premises.community_id == Community.id
    )
    return _filtered(statement, filters).order_by(Community.name, Premises.postcode, Premises.uprn)


def community_part(filters: ExportFilters) -> AnySelect:
    """One community's rows of the mailing list, sorted by postcode and UPRN: the community whose id the
    COMMUNITY_ID parameter gives, its own columns (COMMUNITY_COLUMNS) given as parameters of those names, as
    `listed_communities` writes them. Written once per community rather than worked out again for each of
    its premises."""
    given = tuple(bindparam(name, type_=Text(), required=False) for name in COMMUNITY_COLUMNS)
    statement = _mailing_list_rows(given).where(
        Premises.community_id == bindparam(COMMUNITY_ID, required=False), *_premises_conditions(filters)
    )
    return statement.order_by(Premises.postcode, Premises.uprn)


def listed_communities(filters: ExportFilters) -> AnySelect:
    """The communities the mailing list may hold, in its order (by name): each one's COMMUNITY_ID and its
    COMMUNITY_COLUMNS as the CSV writes them."""
    columns = (column.label(name) for column, name in zip(_community_columns(), COMMUNITY_COLUMNS, strict=True))
    statement = select(Community.id.label(COMMUNITY_ID), *columns)
    return statement.where(*_community_conditions(filters)).order_by(Community.name)


def _community_columns() -> tuple[ColumnElement[str], ...]:
    return spreadsheet_safe(Community.name), true_or_false(Community.rfs), iso_date(Community.rfs_date)


def _mailing_list_rows(community_columns: tuple[ColumnElement[str], ...]) -> AnySelect:
    """The CSV's columns, its community's three given as `community_columns`. The UPRN is left as a number,
    which COPY writes as the same digits."""
    columns = (
        Premises.uprn,
        spreadsheet_safe(Premises.address_line_1),
        spreadsheet_safe(Premises.address_line_2),
        spreadsheet_safe(Premises.address_line_3),
        spreadsheet_safe(Premises.town),
        spreadsheet_safe(Premises.postcode),
        *community_columns,
        true_or_false(Premises.business),
        true_or_false(Premises.bduk),
        Premises.segment,  # safe as written: its CHECK admits only SEGMENTS, none of which starts a formula
    )
    return select(*(column.label(name) for column, name in zip(columns, CSV_COLUMNS, strict=True)))


def mailing_list_counts(session: Session, filters: ExportFilters) -> list[CommunityCount]:
    """How many of each community's premises the mailing list holds, by name. Each community the filters name
    that exists is counted, even at zero, so that a name asked for and not counted does not exist."""
    counted = select(Community.name, func.count(Premises.uprn))
    if filters.communities is None:
        # A join PostgreSQL can share between parallel workers, where an outer join over every premises cannot.
        statement = _filtered(counted.join_from(Premises, Community, Premises.community_id == Community.id), filters)
    else:
        others = dataclasses.replace(filters, communities=None)
        held = and_(
            Premises.community_id == Community.id, *_community_conditions(others), *_premises_conditions(others)
        )
        statement = counted.outerjoin(Premises, held).where(Community.name.in_(filters.communities), _listed())
    statement = statement.group_by(Community.name).order_by(Community.name)
    return [CommunityCount(name=row[0], premises=row[1]) for row in session.execute(statement)]


def communities(session: Session) -> list[CommunityInfo]:
    statement = (
        select(Community.name, Community.rfs, Community.rfs_date, func.count(Premises.uprn))
        .outerjoin(Premises, Premises.community_id == Community.id)
        .where(_listed())
        .group_by(Community.id)
        .order_by(Community.name)
    )
    return [
        CommunityInfo(name=name, rfs=rfs, rfs_date=rfs_date, premises=premises)
        for name, rfs, rfs_date, premises in session.execute(statement)
    ]


def current_data_version(session: Session) -> int:
    return int(session.scalar(select(data_version.c.version)) or 0)


def community_names(session: Session) -> list[str]:
    return list(session.scalars(select(Community.name).where(_listed())))


def ever_a_community(session: Session, name: str) -> bool:
    """Whether `name` is, or was until Salesforce dropped it, a community's exact name."""
    return bool(session.scalar(select(select(Community.id).where(Community.name == name).exists())))


def mailing_list_pieces(connection: Connection, filters: ExportFilters) -> CsvPieces:
    """The mailing list as CSV with its header, in pieces as the database produces them, never all in
    memory; then its row count, from the database rather than from the bytes, where a quoted value may
    hold a newline.

    It walks the communities in name order and reads each one's premises off the index on (community,
    postcode, UPRN), already in export order: the first row leaves at once, where one statement for the
    whole list would sort every row first. On PostgreSQL the connection's transaction must see one
    snapshot throughout (REPEATABLE READ), or a change between two communities could show in one."""
    if connection.dialect.name == "postgresql":
        keep_to_the_index(connection)
    each_community = [row._asdict() for row in connection.execute(listed_communities(filters))]
    return (yield from _headed(csv_rows(connection, community_part(filters), each_community)))


def _headed(pieces: CsvPieces) -> CsvPieces:
    """The header joined to the first piece, so that the first byte waits for the database's first row: a
    database lost until then still fails the request rather than a transfer under way."""
    try:
        first = next(pieces)
    except StopIteration as no_rows:
        yield CSV_HEADER
        return int(no_rows.value)
    yield CSV_HEADER + first
    return (yield from pieces)


def csv_rows(
    connection: Connection, statement: AnySelect, parameter_sets: Sequence[Mapping[str, Any]] = ({},)
) -> CsvPieces:
    """`statement`'s rows as CSV (no header), run for each of `parameter_sets` in turn, then how many rows
    there were: PostgreSQL writes it with COPY, and the kit writes the same bytes on SQLite."""
    return copied_csv(connection, statement, parameter_sets)


def keep_to_the_index(connection: Connection) -> None:
    """For the rest of the transaction. The planner prefers a bitmap scan and a sort for one community's
    premises (it cannot know the sort makes it wait), and compiling a plan with JIT costs more than
    the plan takes to run."""
    for setting in ("jit", "enable_bitmapscan", "enable_sort"):
        connection.exec_driver_sql(f"SET LOCAL {setting} = off")


def _filtered(statement: AnySelect, filters: ExportFilters) -> AnySelect:
    return statement.where(*_community_conditions(filters), *_premises_conditions(filters))


def _listed() -> ColumnElement[bool]:
    """A community still in Salesforce: a retired one stays for its premises, in no list or count."""
    return Community.retired_at.is_(None)


def _community_conditions(filters: ExportFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_listed()]
    if filters.communities is not None:
        conditions.append(Community.name.in_(filters.communities))
    if filters.rfs is not None:
        conditions.append(Community.rfs == filters.rfs)
    if filters.rfs_date_before is not None:
        conditions.append(Community.rfs_date < filters.rfs_date_before)
    if filters.rfs_date_after is not None:
        conditions.append(Community.rfs_date >= filters.rfs_date_after)
    return conditions


def _premises_conditions(filters: ExportFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.business is not None:
        conditions.append(Premises.business == filters.business)
    if filters.bduk is not None:
        conditions.append(Premises.bduk == filters.bduk)
    if filters.segments is not None:
        conditions.append(Premises.segment.in_(filters.segments))
    return conditions
