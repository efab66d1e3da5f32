"""A service's command line, as `ServiceCommands` builds it (the fixture service's, run in-process)."""

from __future__ import annotations

import jwt
import pytest

from servicekit import CommandFailed, ServiceCommands
from servicekit.testing import assert_migrated
from tests.fixture_service import MIGRATIONS, SPECIFICATION, FixtureSettings, create_app


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> ServiceCommands[FixtureSettings]:
    for name in ("PORT", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENVIRONMENT", "local")  # as `make run` says it
    return ServiceCommands(FixtureSettings, create_app, spec=SPECIFICATION, migrations=MIGRATIONS)


def test_help_lists_the_kits_commands(
    cli: ServiceCommands[FixtureSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert {"serve", "migrate", "token"} <= set(capsys.readouterr().out.replace(",", " ").split())


def test_a_bad_setting_stops_any_command_with_one_line_naming_it(
    cli: ServiceCommands[FixtureSettings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORT", "0")
    assert cli.main(["serve"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "run.py: invalid setting PORT: Input should be greater than or equal to 1"
    ]


def test_a_dev_token_grants_every_permission_the_spec_declares(
    cli: ServiceCommands[FixtureSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "--name", "Dev Person"]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert claims["roles"] == ["Fixture.Read", "Fixture.Write"]
    assert claims["name"] == "Dev Person"


def test_a_command_refused_here_exits_2_with_the_reason(
    cli: ServiceCommands[FixtureSettings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "test")
    assert cli.main(["token"]) == 2
    assert capsys.readouterr().err.strip() == "run.py: dev tokens exist only when ENVIRONMENT=local"


def test_a_command_that_fails_exits_1_with_its_message_and_no_traceback(
    cli: ServiceCommands[FixtureSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    def import_orders(_settings: FixtureSettings, _args: object) -> None:
        raise CommandFailed("import-orders changed nothing: the supplier is down")

    cli.add("import-orders", import_orders, "read the day's orders", traced=True)
    assert cli.main(["import-orders"]) == 1
    assert capsys.readouterr().err == "run.py: import-orders changed nothing: the supplier is down\n"


def test_migrate_builds_the_database(
    cli: ServiceCommands[FixtureSettings], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    url = f"sqlite:///{tmp_path / 'service.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(["migrate"]) == 0
    assert_migrated(url, MIGRATIONS)
