"""A service's command line: `serve` (the default), `migrate`, `revision`, `token`, `audit` for a service that keeps
its audit trail in its database (`add_audit()`), and the service's own commands.

    cli = ServiceCommands(Settings, create_app, spec=SPEC, migrations=MIGRATIONS, description="Orders.")
    cli.add("import-orders", import_orders, "read the day's orders").add_argument("--day")
    sys.exit(cli.main())

A command is a function of the settings and the parsed arguments. A bad setting stops any of them with
one line naming it, and exit status 2; so does a command refused in this environment (PermissionError).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Generic

import structlog
from alembic.util import CommandError
from sqlalchemy import make_url

from servicekit.apm import traced_command
from servicekit.app import ServiceApp
from servicekit.audit_command import DetailsFilter, add_audit_arguments, print_audit_events
from servicekit.auth.dev_login import mint_dev_token
from servicekit.auth.permissions import declared_permissions
from servicekit.logs import configure_logging
from servicekit.migrations import MigrationBlocked, MigrationLimits, Migrations
from servicekit.server import run_server
from servicekit.settings import AnySettings, DatabaseSettings, SettingsError, load_settings
from servicekit.spec import configured_spec

__all__ = ["CommandFailed", "ServiceCommands"]

Command = Callable[[AnySettings, argparse.Namespace], None]

log = structlog.get_logger(__name__)


class CommandFailed(Exception):
    """A command that could not do its job: its message is printed and the exit status is 1 (for a job
    runner such as a Kubernetes CronJob to see), without a traceback."""


class ServiceCommands(Generic[AnySettings]):
    """The service's command line: `serve`, `token`, `migrate` and `revision` (given migrations), `audit`
    (once added) and the service's own commands; `main()` runs the one its arguments name."""

    def __init__(
        self,
        settings_class: type[AnySettings],
        create_app: Callable[[AnySettings], ServiceApp],
        *,
        spec: Path,
        migrations: Migrations | None = None,
        description: str = "",
    ) -> None:
        self.settings_class = settings_class
        self.create_app = create_app
        self.spec = spec
        self.migrations = migrations
        self.parser = argparse.ArgumentParser(prog="run.py", description=description)
        self.parser.set_defaults(run=self.serve, traced=False, name="serve")
        self._commands = self.parser.add_subparsers(dest="command", metavar="COMMAND")
        self.add("serve", self.serve, "serve the API with uvicorn (the default)")
        if migrations:
            migrate = self.add("migrate", self.migrate, "upgrade the database schema")
            migrate.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
            revision = self.add("revision", self.revision, "write a new migration into the service's revisions")
            revision.add_argument("-m", "--message", required=True, help="what the migration does (its docstring)")
            revision.add_argument(
                "--autogenerate",
                action="store_true",
                help="write what the models have and the database lacks (DATABASE_URL: PostgreSQL)",
            )
        token = self.add("token", self.token, "print a dev login token (ENVIRONMENT=local only)")
        token.add_argument(
            "--role", action="append", help="an app role to grant (repeatable; default: every one the spec declares)"
        )
        token.add_argument("--no-roles", action="store_true", help="grant no role at all (to see a 403)")
        token.add_argument("--expires-in", type=int, default=3600, metavar="SECONDS", help="lifetime (default 3600)")
        token.add_argument("--expired", action="store_true", help="make a token that has already expired")
        token.add_argument("--name", default="Local Developer", help="the caller's name in logs")

    def add(
        self, name: str, command: Command[AnySettings], help_text: str, *, traced: bool = False
    ) -> argparse.ArgumentParser:
        """Adds a command; its parser is returned for the command's own arguments. A `traced` one runs as an
        APM transaction when ELASTIC_APM_SERVER_URL is set (a job that talks to other services, say)."""
        parser = self._commands.add_parser(name, help=help_text)
        parser.set_defaults(run=command, traced=traced, name=name)
        return parser

    def add_audit(self, details_filter: DetailsFilter = lambda _args: None) -> argparse.ArgumentParser:
        """Adds `audit`, which prints the audit trail's events, for a service whose migrations create the
        `audit_events` table (`servicekit.audit_store`); `details_filter` makes the service's own test of
        each event's details from the arguments it adds to the parser returned (servicekit.audit_command)."""
        assert self.migrations is not None, "the audit trail's table is made by the service's migrations"
        migrations = self.migrations

        def audit(settings: AnySettings, args: argparse.Namespace) -> None:
            assert isinstance(settings, DatabaseSettings)
            print_audit_events(settings, args, migrations, details_filter)

        parser = self.add("audit", audit, "print the audit trail's events: who reached which data, and how it ended")
        add_audit_arguments(parser)
        return parser

    def main(self, argv: list[str] | None = None) -> int:
        args = self.parser.parse_args(argv)
        try:
            settings = load_settings(self.settings_class)
        except SettingsError as exc:
            print(f"{self.parser.prog}: invalid setting {exc}", file=sys.stderr)
            return 2
        configure_logging(settings)
        command: Command[AnySettings] = args.run
        try:
            with traced_command(settings, f"{self.parser.prog} {args.name}") if args.traced else nullcontext():
                command(settings, args)
        except PermissionError as exc:
            print(f"{self.parser.prog}: {exc}", file=sys.stderr)
            return 2
        except CommandFailed as exc:
            print(f"{self.parser.prog}: {exc}", file=sys.stderr)
            return 1
        return 0

    def serve(self, settings: AnySettings, _args: argparse.Namespace) -> None:
        run_server(self.create_app(settings), settings)

    def migrate(self, settings: AnySettings, args: argparse.Namespace) -> None:
        assert self.migrations is not None
        assert isinstance(settings, DatabaseSettings)
        limits = MigrationLimits.from_settings(settings)
        try:
            self.migrations.upgrade(
                settings.database_url, args.revision, limits=limits, application_name=f"{settings.service_name} migrate"
            )
        except MigrationBlocked as exc:
            raise CommandFailed(f"migrate {exc}") from None
        log.info("database migrated", revision=args.revision)

    def revision(self, settings: AnySettings, args: argparse.Namespace) -> None:
        assert self.migrations is not None
        assert isinstance(settings, DatabaseSettings)
        if args.autogenerate and make_url(settings.database_url).get_backend_name() != "postgresql":
            # Compared with SQLite, alembic writes SQLite's own server defaults (`sa.text("0")` for a
            # boolean), which PostgreSQL refuses when the revision is applied there.
            raise CommandFailed(
                "revision --autogenerate compares the models with PostgreSQL only: set DATABASE_URL to a "
                "PostgreSQL database (without --autogenerate it writes an empty revision anywhere)"
            )
        try:
            self.migrations.write_revision(
                settings.database_url,
                args.message,
                autogenerate=args.autogenerate,
                limits=MigrationLimits.from_settings(settings),
                application_name=f"{settings.service_name} revision",
            )
        except MigrationBlocked as exc:
            raise CommandFailed(f"revision {exc}") from None
        except CommandError as exc:  # alembic's refusal (no metadata to compare, several heads) is the message
            raise CommandFailed(f"revision: {exc}") from None

    def token(self, settings: AnySettings, args: argparse.Namespace) -> None:
        roles = [] if args.no_roles else args.role or declared_permissions(configured_spec(self.spec, settings))
        expires_in = -60 if args.expired else args.expires_in
        print(mint_dev_token(settings, roles=roles, expires_in=expires_in, name=args.name))
