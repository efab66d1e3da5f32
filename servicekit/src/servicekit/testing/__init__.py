"""Testing a service built on the kit: the pytest plugin (`servicekit.testing.plugin`, loaded by itself)
and the real peers its fixtures stand on, to use directly where a test needs its own."""

from servicekit.testing.clock import FakeClock
from servicekit.testing.codings import StreamDecoder, cleanly_ended
from servicekit.testing.commands import run_service_command
from servicekit.testing.databases import (
    DownloadServer,
    active_queries,
    assert_migrated,
    assert_migrations_round_trip,
    assert_models_match_migrations,
    on_server,
    replayed,
    temporary_database,
    terminate_queries,
)
from servicekit.testing.fake_apm import FakeApmServer
from servicekit.testing.fake_entra import (
    API_CLIENT_ID,
    API_URI,
    SERVICE_CLIENT_ID,
    SERVICE_SECRET,
    FakeEntra,
    FakeEntraTransport,
    SigningKey,
)
from servicekit.testing.network import SwitchableLink, slow_reader, socket_that_never_answers, socket_that_refuses
from servicekit.testing.problems import assert_problem
from servicekit.testing.servers import LiveServer, LoggedServer, ServiceProcess, environment_without, eventually
from servicekit.testing.service import TEST_ORIGIN, ServiceUnderTest, documented_settings, settings_for_tests

__all__ = [
    "API_CLIENT_ID",
    "API_URI",
    "SERVICE_CLIENT_ID",
    "SERVICE_SECRET",
    "TEST_ORIGIN",
    "DownloadServer",
    "FakeApmServer",
    "FakeClock",
    "FakeEntra",
    "FakeEntraTransport",
    "LiveServer",
    "LoggedServer",
    "ServiceProcess",
    "ServiceUnderTest",
    "SigningKey",
    "StreamDecoder",
    "SwitchableLink",
    "active_queries",
    "assert_migrated",
    "assert_migrations_round_trip",
    "assert_models_match_migrations",
    "assert_problem",
    "cleanly_ended",
    "documented_settings",
    "environment_without",
    "eventually",
    "on_server",
    "replayed",
    "run_service_command",
    "settings_for_tests",
    "slow_reader",
    "socket_that_never_answers",
    "socket_that_refuses",
    "temporary_database",
    "terminate_queries",
]
