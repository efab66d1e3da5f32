"""The kit's tests run on its own pytest plugin, as a service's do, against the fixture service."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Connection

from servicekit.downloads import Produced, Producer
from servicekit.testing import ServiceUnderTest
from tests.fixture_service import MIGRATIONS, SPECIFICATION, FixtureSettings, create_app, views


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest[FixtureSettings]:
    return ServiceUnderTest(FixtureSettings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS)


@pytest.fixture
def paused_after_the_first_piece(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """/numbers stops reading its COPY after the first piece until the event is set, its backend still
    copying meanwhile, whatever the encoding (compressed, the file would fit the socket buffers at once)."""
    resume = threading.Event()
    numbers_copied = views.numbers_copied

    def paused(rows: int) -> Producer:
        def produce(connection: Connection) -> Produced:
            produced = numbers_copied(rows)(connection)
            yield next(produced)
            resume.wait(30)
            return (yield from produced)

        return produce

    monkeypatch.setattr(views, "numbers_copied", paused)
    return resume
