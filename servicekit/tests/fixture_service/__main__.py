"""`python -m tests.fixture_service`: the fixture service's command line, as a service's run.py."""

import sys

from servicekit import ServiceCommands
from tests.fixture_service import MIGRATIONS, SPECIFICATION, FixtureSettings, create_app

cli = ServiceCommands(FixtureSettings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS)
cli.add_audit()
sys.exit(cli.main())
