"""The service's command line: `python run.py --help` lists the subcommands."""

from __future__ import annotations

import argparse
import sys

import httpx

from app import MIGRATIONS, SPECIFICATION, create_app
from app.status_page import published_notices, status_page
from config import Settings
from servicekit import CommandFailed, Database, ServiceCommands
from servicekit.auth.outbound import AppTokenAuth, AppTokenError


def publish_notices_command(settings: Settings, _args: argparse.Namespace) -> None:
    try:
        auth = AppTokenAuth(settings, settings.status_page_scope)
        with (
            Database.for_command(settings, MIGRATIONS) as database,
            database.session() as session,
            status_page(settings, auth) as client,
        ):
            published = published_notices(session, client)
    except (AppTokenError, httpx.HTTPError) as exc:
        raise CommandFailed(f"publish-notices stopped: {exc}") from None
    print(f"{published} notices published")


def commands() -> ServiceCommands[Settings]:
    cli = ServiceCommands(Settings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS, description="Outages.")
    cli.add("publish-notices", publish_notices_command, "publish new notices on the status page", traced=True)
    return cli


if __name__ == "__main__":
    sys.exit(commands().main())
