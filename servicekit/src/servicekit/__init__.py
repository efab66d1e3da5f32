"""servicekit: the plumbing of a spec-first Connexion 3 + Flask 3 service, so that a service is its spec,
its views and its queries. `servicekit/README.md` shows a whole service built on it."""

from importlib.metadata import version

from servicekit.app import ServiceApp, service_app
from servicekit.audit import AuditedAccess, audited, audited_if_refused
from servicekit.cli import CommandFailed, ServiceCommands
from servicekit.database import Database
from servicekit.downloads import Downloads
from servicekit.migrations import Migrations
from servicekit.parts import current
from servicekit.problems import ServiceUnavailable
from servicekit.settings import DatabaseSettings, ServiceSettings, SettingsError, load_settings

__version__ = version("gigaclear-servicekit")
"""The installed release of the kit."""
__all__ = [
    "AuditedAccess",
    "CommandFailed",
    "Database",
    "DatabaseSettings",
    "Downloads",
    "Migrations",
    "ServiceApp",
    "ServiceCommands",
    "ServiceSettings",
    "ServiceUnavailable",
    "SettingsError",
    "__version__",
    "audited",
    "audited_if_refused",
    "current",
    "load_settings",
    "service_app",
]
