"""Directmail's command line: `python run.py --help` lists the subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import structlog

from app.auth.dev_login import mint_dev_token
from app.auth.tokens import READ_PERMISSION
from app.database import Database
from app.database import migrate as migrate_database
from app.demo_data import has_premises
from app.demo_data import seed_demo as seed_demo_data
from app.logs import configure_logging
from app.server import serve as serve_app
from config import Settings, SettingsError, load_settings

log = structlog.get_logger("directmail.cli")


def serve(settings: Settings, _args: argparse.Namespace) -> None:
    serve_app(settings)


def migrate(settings: Settings, args: argparse.Namespace) -> None:
    configure_logging(settings)
    migrate_database(settings.database_url, args.revision)
    log.info("database migrated", revision=args.revision)


def token(settings: Settings, args: argparse.Namespace) -> None:
    roles = [] if args.no_roles else args.role or [READ_PERMISSION]
    expires_in = -60 if args.expired else args.expires_in
    print(mint_dev_token(settings, roles=roles, expires_in=expires_in, name=args.name))


def seed_demo(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.is_development:
        raise PermissionError("seed-demo replaces all data: it runs only when ENVIRONMENT is local or test")
    configure_logging(settings)
    database = Database(settings.database_url, timeout_seconds=settings.database_timeout_seconds)
    try:
        with database.engine.begin() as connection:
            if args.if_empty and has_premises(connection):
                log.info("demo data not seeded: the database has premises already")
                return
            seed_demo_data(connection, args.premises)
        log.info("demo data seeded", premises=args.premises)
    finally:
        database.dispose()


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="run.py", description="The Directmail service.")
    commands = cli.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="serve the API with uvicorn (the default)").set_defaults(run=serve)
    migrate_cli = commands.add_parser("migrate", help="upgrade the database schema")
    migrate_cli.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    migrate_cli.set_defaults(run=migrate)
    seed_cli = commands.add_parser("seed-demo", help="replace the data with the deterministic demo set")
    seed_cli.add_argument("--premises", type=int, default=20_000, help="how many premises (default 20000)")
    seed_cli.add_argument("--if-empty", action="store_true", help="only when the database has no premises yet")
    seed_cli.set_defaults(run=seed_demo)
    token_cli = commands.add_parser("token", help="print a dev login token (ENVIRONMENT=local only)")
    token_cli.add_argument(
        "--role", action="append", help=f"an app role to grant (repeatable; default {READ_PERMISSION})"
    )
    token_cli.add_argument("--no-roles", action="store_true", help="grant no role at all (to see a 403)")
    token_cli.add_argument("--expires-in", type=int, default=3600, metavar="SECONDS", help="lifetime (default 3600)")
    token_cli.add_argument("--expired", action="store_true", help="make a token that has already expired")
    token_cli.add_argument("--name", default="Local Developer", help="the caller's name in logs")
    token_cli.set_defaults(run=token)
    cli.set_defaults(run=serve)
    return cli


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"run.py: invalid setting {exc}", file=sys.stderr)
        return 2
    command: Callable[[Settings, argparse.Namespace], None] = args.run
    try:
        command(settings, args)
    except PermissionError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
