"""`python -m tests.lean_service`: the fixture service's command line, its migrations run by the kit's
alembic environment."""

import sys

from servicekit import ServiceCommands
from tests.fixture_service import SPECIFICATION, FixtureSettings, create_app
from tests.lean_service import MIGRATIONS

sys.exit(ServiceCommands(FixtureSettings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS).main())
