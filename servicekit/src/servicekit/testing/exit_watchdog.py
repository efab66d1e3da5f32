"""A suite that has finished never hangs its pipeline at exit.

Python's exit waits for every non-daemon thread and every thread-pool worker (a2wsgi runs Flask's views
on one). A worker left waiting on an event loop that has stopped would keep a passed run alive until the
CI job's own timeout, saying nothing. Once pytest has finished, this gives the interpreter
`servicekit_exit_watchdog_seconds` (an ini option, 120 by default) to exit; past that, it prints every
thread's stack and ends the run as failed.
"""

from __future__ import annotations

import faulthandler

import pytest

OPTION = "servicekit_exit_watchdog_seconds"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(OPTION, "seconds the interpreter has to exit once pytest has finished", default="120")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # File descriptor 2: the terminal's again once pytest's capture has stopped.
    faulthandler.dump_traceback_later(float(config.getini(OPTION)), exit=True, file=2)
