"""The kit's pytest plugin does the rest: this says what to test."""

from __future__ import annotations

import pytest

from app import MIGRATIONS, SPECIFICATION, create_app
from config import Settings
from servicekit.testing import ServiceUnderTest


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest[Settings]:
    return ServiceUnderTest(Settings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS)
