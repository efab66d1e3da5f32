"""A repeated summary is answered from what was counted, until the data under it changes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from app.data_types import ExportFilters
from app.models import Community, Premises, data_version
from app.summary_cache import SummaryCache
from servicekit import Database

NAME = "Winson"


@contextmanager
def statements_run(database: Database) -> Iterator[list[str]]:
    run: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        run.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield run
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def total(client: TestClient, staff: dict[str, str]) -> int:
    response = client.get("/directmail-summary", params={"communities": NAME}, headers=staff)
    assert response.status_code == 200
    return int(response.json()["total"])


def test_a_repeated_summary_reads_only_the_data_version(
    client: TestClient, staff: dict[str, str], database: Database
) -> None:
    first = total(client, staff)
    with statements_run(database) as run:
        assert total(client, staff) == first
    reads = [statement for statement in run if not statement.startswith("INSERT INTO audit_events")]
    assert reads == [str(select(data_version.c.version).compile(database.engine))]


def test_a_change_to_the_data_shows_in_the_next_summary(
    client: TestClient, staff: dict[str, str], db_session: Session
) -> None:
    before = total(client, staff)
    community = select(Community.id).where(Community.name == NAME).scalar_subquery()
    one = db_session.scalar(select(Premises.uprn).where(Premises.community_id == community).limit(1))
    db_session.execute(delete(Premises).where(Premises.uprn == one))
    db_session.commit()
    assert total(client, staff) == before - 1
    another = db_session.scalar(select(Premises.uprn).where(Premises.community_id == community).limit(1))
    elsewhere = select(Community.id).where(Community.name != NAME).limit(1).scalar_subquery()
    db_session.execute(update(Premises).where(Premises.uprn == another).values(community_id=elsewhere))
    db_session.commit()
    assert total(client, staff) == before - 2


def test_with_no_entries_kept_every_summary_is_counted_afresh(database: Database) -> None:
    """SUMMARY_CACHE_ENTRIES=0: what the benchmark's uncached figure measures."""
    cache = SummaryCache(entries=0)
    filters = ExportFilters(communities=(NAME,))
    with database.read_session() as session, statements_run(database) as run:
        first = cache.summary(session, filters)
        assert cache.summary(session, filters) == first
    counted_once = run[: len(run) // 2]
    assert counted_once
    assert run == counted_once * 2
    assert str(select(data_version.c.version).compile(database.engine)) not in run
