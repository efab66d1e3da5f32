"""The pytest plugin's isolation: whatever a test writes, through whichever fixture, connection, thread or
process, the next test finds the run's baseline again; a download in a test sees the test's rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, Protocol

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from servicekit.copy_out import copied_csv
from servicekit.downloads import Producer
from servicekit.testing import LiveServer, temporary_database
from servicekit.testing.databases import libpq_url
from servicekit.testing.isolation import Baseline
from tests.fixture_service import views

Headers = Callable[..., dict[str, str]]
ATTEMPTS = pytest.mark.parametrize("attempt", [1, 2])  # the second fails if the first one's write survived


class Answer(Protocol):  # httpx's response, and the test client's
    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


def added_note(response: Answer) -> int:
    assert response.status_code == 201, response.text
    note_id: int = response.json()["id"]
    return note_id


@ATTEMPTS
def test_writes_through_the_client_are_undone(client: TestClient, auth_headers: Headers, attempt: int) -> None:
    assert client.get("/notes", headers=auth_headers()).json() == {"notes": 0}
    note = added_note(client.post("/notes", json={"body": f"attempt {attempt}"}, headers=auth_headers()))
    assert note == 1  # the ids start again too: none depends on which tests ran before


@ATTEMPTS
@pytest.mark.anyio
async def test_writes_through_the_async_client_are_undone(
    async_client: httpx.AsyncClient, auth_headers: Headers, attempt: int
) -> None:
    assert (await async_client.get("/notes", headers=auth_headers())).json() == {"notes": 0}
    assert added_note(await async_client.post("/notes", json={"body": "async"}, headers=auth_headers())) == 1


@ATTEMPTS
def test_writes_through_a_live_server_are_undone(live_server: LiveServer, auth_headers: Headers, attempt: int) -> None:
    with httpx.Client(base_url=live_server.url, headers=auth_headers()) as http:
        assert http.get("/notes").json() == {"notes": 0}
        assert added_note(http.post("/notes", json={"body": "live"})) == 1


@ATTEMPTS
def test_writes_by_another_process_are_undone(database_url: str, attempt: int) -> None:
    """A test naming only the database's URL (to start the service in a subprocess, say) is isolated too."""
    with psycopg.connect(libpq_url(database_url)) as other:
        assert other.execute("SELECT count(*) FROM notes").fetchone() == (0,)
        other.execute("INSERT INTO notes (body) VALUES ('from elsewhere')")


@ATTEMPTS
def test_writes_committed_through_db_session_are_undone(
    db_session: Session, client: TestClient, auth_headers: Headers, attempt: int
) -> None:
    assert db_session.scalar(text("SELECT count(*) FROM notes")) == 0
    db_session.execute(text("INSERT INTO notes (body) VALUES ('committed')"))
    db_session.commit()
    assert client.get("/notes", headers=auth_headers()).json() == {"notes": 1}


@pytest.fixture(scope="class")
def seeded_for_the_class(database_url: str) -> Iterator[None]:
    with psycopg.connect(libpq_url(database_url)) as connection:
        connection.execute("INSERT INTO notes (body) VALUES ('seeded for the class')")
    yield
    with psycopg.connect(libpq_url(database_url)) as connection:
        connection.execute("DELETE FROM notes WHERE body = 'seeded for the class'")


@pytest.mark.usefixtures("seeded_for_the_class")
class TestRowsAFixtureOfTheClassWrote:
    """A fixture wider than a test seeds rows once: each of its tests finds them, whatever the last one did."""

    @ATTEMPTS
    def test_each_finds_them(self, db_session: Session, attempt: int) -> None:
        assert db_session.scalars(text("SELECT body FROM notes")).all() == ["seeded for the class"]
        # The baseline's copy of the table goes by another name: looked up by its name, the table is alone.
        named = text("SELECT count(*) FROM information_schema.tables WHERE table_name = 'notes'")
        assert db_session.scalar(named) == 1
        db_session.execute(text("DELETE FROM notes"))
        db_session.execute(text("INSERT INTO notes (body) VALUES ('the test s own')"))
        db_session.commit()


@ATTEMPTS
def test_rows_a_wider_fixture_wrote_go_with_it(db_session: Session, attempt: int) -> None:
    assert db_session.scalar(text("SELECT count(*) FROM notes")) == 0


# --- Downloads ---------------------------------------------------------------------------------------


@pytest.fixture
def notes_download(monkeypatch: pytest.MonkeyPatch) -> str:
    """/numbers downloads the notes' bodies instead, through the kit's downloads as any download runs:
    COPY on a connection of its own."""

    def bodies(rows: int) -> Producer:
        return partial(copied_csv, statement=text("SELECT body FROM notes ORDER BY id"))

    monkeypatch.setattr(views, "numbers_copied", bodies)
    return "/numbers?rows=1"


def test_a_download_sees_what_the_test_committed_through_db_session(
    db_session: Session, client: TestClient, notes_download: str
) -> None:
    db_session.execute(text("INSERT INTO notes (body) VALUES ('first'), ('second')"))
    db_session.commit()
    assert client.get(notes_download).text.splitlines() == ["first", "second"]


def test_a_download_sees_what_the_test_wrote_through_the_api(
    client: TestClient, auth_headers: Headers, notes_download: str
) -> None:
    added_note(client.post("/notes", json={"body": "posted"}, headers=auth_headers()))
    assert client.get(notes_download).text.splitlines() == ["posted"]


# --- The baseline: what the run's database held once built and seeded ------------------------------

SCHEMA = """
CREATE TABLE parents (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE children (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id integer NOT NULL REFERENCES parents (id),
    name text NOT NULL,
    shouted text GENERATED ALWAYS AS (upper(name)) STORED
);
CREATE TABLE scratch (note text);
INSERT INTO parents (name) VALUES ('Ada'), ('Bea');
INSERT INTO children (parent_id, name) VALUES (1, 'Cy'), (2, 'Di');
"""

Dump = dict[str, list[tuple[object, ...]]]


def dump(connection: psycopg.Connection[tuple[object, ...]]) -> Dump:
    tables = {table: f"SELECT * FROM {table} ORDER BY 1" for table in ("parents", "children", "scratch")}
    sequences = {
        sequence: f"SELECT last_value, is_called FROM {sequence}" for sequence in ("parents_id_seq", "children_id_seq")
    }
    return {name: connection.execute(query).fetchall() for name, query in (tables | sequences).items()}


@pytest.fixture
def seeded_database(server_url: str) -> Iterator[str]:
    with temporary_database(server_url) as url:
        with psycopg.connect(libpq_url(url)) as connection:
            connection.execute(SCHEMA)
        yield libpq_url(url)


def test_the_baseline_comes_back_rows_ids_and_all(seeded_database: str) -> None:
    """Seeded rows changed, deleted and added to, a referenced table among them, come back as seeded, and
    the next ids handed out are the ones the seeding left."""
    with psycopg.connect(seeded_database) as connection:
        seeded = dump(connection)
    baseline = Baseline(seeded_database)
    with psycopg.connect(seeded_database) as connection:
        connection.execute("UPDATE parents SET name = 'Eve' WHERE id = 1")
        connection.execute("DELETE FROM children WHERE id = 2")
        connection.execute("INSERT INTO children (parent_id, name) VALUES (1, 'Fay')")
        connection.execute("INSERT INTO scratch VALUES ('left over')")
    baseline.restore()
    with psycopg.connect(seeded_database) as connection:
        assert dump(connection) == seeded
        assert connection.execute("INSERT INTO parents (name) VALUES ('Gil') RETURNING id").fetchone() == (3,)
    baseline.restore()
    with psycopg.connect(seeded_database) as connection:
        assert dump(connection) == seeded


def test_a_table_nothing_changed_is_left_alone(seeded_database: str) -> None:
    """Putting back only what changed keeps a test that wrote nothing cheap: no table is rewritten."""
    baseline = Baseline(seeded_database)
    with psycopg.connect(seeded_database) as connection:
        connection.execute("INSERT INTO scratch VALUES ('left over')")
        files = "SELECT relname, relfilenode FROM pg_class WHERE relname IN ('parents', 'children', 'scratch')"
        before: dict[str, int] = dict(connection.execute(files).fetchall())
    baseline.restore()
    with psycopg.connect(seeded_database) as connection:
        after: dict[str, int] = dict(connection.execute(files).fetchall())
    assert after["scratch"] != before["scratch"]  # emptied by TRUNCATE: a new file
    assert (after["parents"], after["children"]) == (before["parents"], before["children"])
