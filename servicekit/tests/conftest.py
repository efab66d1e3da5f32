"""The kit's tests run on its own pytest plugin, as a service's do, against the fixture service."""

from __future__ import annotations

import pytest

from servicekit.testing import ServiceUnderTest
from tests.fixture_service import MIGRATIONS, SPECIFICATION, FixtureSettings, create_app


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest[FixtureSettings]:
    return ServiceUnderTest(FixtureSettings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS)
