"""Directmail's command line: `python run.py --help` lists the subcommands.

`serve` (the default), `migrate` and `token` are the kit's; `seed-demo` is Directmail's own.
"""

from __future__ import annotations

import argparse
import sys

import structlog

from app import MIGRATIONS, SPECIFICATION, create_app
from app.demo_data import has_premises, seed_demo
from config import Settings
from servicekit import Database, ServiceCommands

log = structlog.get_logger("directmail.cli")


def seed_demo_command(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.is_development:
        raise PermissionError("seed-demo replaces all data: it runs only when ENVIRONMENT is local or test")
    database = Database.from_settings(settings, MIGRATIONS)
    try:
        with database.engine.begin() as connection:
            if args.if_empty and has_premises(connection):
                log.info("demo data not seeded: the database has premises already")
                return
            seed_demo(connection, args.premises)
        log.info("demo data seeded", premises=args.premises)
    finally:
        database.dispose()


def commands() -> ServiceCommands[Settings]:
    cli = ServiceCommands(
        Settings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS, description="The Directmail service."
    )
    seed = cli.add("seed-demo", seed_demo_command, "replace the data with the deterministic demo set")
    seed.add_argument("--premises", type=int, default=20_000, help="how many premises (default 20000)")
    seed.add_argument("--if-empty", action="store_true", help="only when the database has no premises yet")
    return cli


if __name__ == "__main__":
    sys.exit(commands().main())
