"""The service's command line: `python run.py --help` lists the subcommands."""

from __future__ import annotations

import sys

from app import SPECIFICATION, create_app
from config import Settings
from servicekit import ServiceCommands

if __name__ == "__main__":
    sys.exit(ServiceCommands(Settings, create_app, spec=SPECIFICATION, description="Hello.").main())
