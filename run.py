"""Directmail's command line: `python run.py --help` lists the subcommands.

`serve` (the default), `migrate`, `token` and `audit` are the kit's (`audit --community` is Directmail's);
`seed-demo` and `sync-salesforce` are Directmail's own.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

import structlog
from sqlalchemy.exc import SQLAlchemyError

from app import MIGRATIONS, SPECIFICATION, create_app
from app.community_sync import SyncRefused, sync_communities
from app.demo_data import seed_demo
from app.mailing_lists import could_reach_community
from app.salesforce import SalesforceError
from config import Settings
from servicekit import CommandFailed, Database, ServiceCommands
from servicekit.audit_command import DetailsTest
from servicekit.database import database_error

log = structlog.get_logger("directmail.cli")


def seed_demo_command(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.is_development:
        raise PermissionError("seed-demo replaces all data: it runs only when ENVIRONMENT is local or test")
    with Database.for_command(settings, MIGRATIONS) as database:
        if not seed_demo(database.engine, args.premises, if_empty=args.if_empty):
            log.info("demo data not seeded: the database has premises already")
            return
    log.info("demo data seeded", premises=args.premises)


def sync_salesforce_command(settings: Settings, args: argparse.Namespace) -> None:
    try:
        with Database.for_command(settings, MIGRATIONS) as database:
            report = sync_communities(settings, database.engine, allow_shrink=args.allow_shrink)
    except (SalesforceError, SyncRefused) as exc:
        raise CommandFailed(f"sync-salesforce changed nothing: {exc}") from None
    except SQLAlchemyError as exc:  # the database gone, a statement timed out, ...
        raise CommandFailed(
            f"sync-salesforce changed nothing: the database refused it: {database_error(exc)}"
        ) from None
    for line in report.lines():
        print(line)
    log.info(
        "communities synced",
        added=len(report.added),
        changed=len(report.changed),
        retired=len(report.retired),
        deleted=len(report.deleted),
    )


def commands() -> ServiceCommands[Settings]:
    cli = ServiceCommands(
        Settings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS, description="The Directmail service."
    )
    seed = cli.add("seed-demo", seed_demo_command, "replace the data with the deterministic demo set")
    seed.add_argument("--premises", type=int, default=20_000, help="how many premises (default 20000)")
    seed.add_argument("--if-empty", action="store_true", help="only when the database has no premises yet")
    sync = cli.add(
        "sync-salesforce", sync_salesforce_command, "bring the communities in line with Salesforce's", traced=True
    )
    sync.add_argument(
        "--allow-shrink",
        action="store_true",
        help="apply an answer that takes more than SALESFORCE_SYNC_MAX_SHRINK_PERCENT of the communities away",
    )
    audit = cli.add_audit(community_test)
    audit.add_argument(
        "--community", help="only accesses that could reach its premises: those naming it, and those naming none"
    )
    return cli


def community_test(args: argparse.Namespace) -> DetailsTest | None:
    return partial(could_reach_community, community=args.community) if args.community else None


if __name__ == "__main__":
    sys.exit(commands().main())
