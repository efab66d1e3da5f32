"""Other libraries' internals that the kit relies on fail loudly: one renamed or changed in the installed
release stops the service as it starts, with one line naming the internal and the release; and every
library the kit imports is declared, bounded from above, in its pyproject.toml."""

from __future__ import annotations

import ast
import socket
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from servicekit.testing import environment_without

pytestmark = pytest.mark.slow

KIT_ROOT = Path(__file__).parents[1]
BOUNDS = "servicekit/pyproject.toml bounds it to the releases the kit's tests pass on"
# The fixture service's `serve`, after `change` has made the installed release a different one.
SERVE_AFTER = """{change}
import runpy, sys
sys.argv = ["run.py", "serve"]
runpy.run_module("tests.fixture_service", run_name="__main__")
"""


def serve_after(change: str) -> subprocess.CompletedProcess[str]:
    """`serve` on a port already taken: a service that starts stops there, once it has logged its start."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        env = environment_without("ELASTIC_APM_", "DATABASE_URL") | {
            "ENVIRONMENT": "test",
            "HOST": "127.0.0.1",
            "PORT": str(taken.getsockname()[1]),
        }
        return subprocess.run(
            [sys.executable, "-c", SERVE_AFTER.format(change=change)],
            cwd=KIT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            "import uvicorn.protocols.http.httptools_impl as m\n"
            "m.HttpToolsProtocol._should_upgrade_to = m.HttpToolsProtocol._should_upgrade\n"
            "del m.HttpToolsProtocol._should_upgrade",
            "uvicorn.protocols.http.httptools_impl.HttpToolsProtocol._should_upgrade, an internal of uvicorn, "
            "which it does not have in uvicorn {uvicorn}",
            id="a method renamed",
        ),
        pytest.param(
            "import uvicorn.protocols.http.httptools_impl as m\nm.STATUS_LINES = m.__dict__.pop('STATUS_LINE')",
            "uvicorn.protocols.http.httptools_impl.STATUS_LINE, an internal of uvicorn, which it does not have in "
            "uvicorn {uvicorn}",
            id="a module's name renamed",
        ),
        pytest.param(
            "import uvicorn.protocols.http.httptools_impl as m\n"
            "m.HttpToolsProtocol.data_received = m.HttpToolsProtocol.on_url",
            "uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.data_received, an internal of uvicorn, "
            "which the kit holds a copy of, changed in uvicorn {uvicorn}",
            id="a function the kit copies changed",
        ),
        pytest.param(
            "import elasticapm.transport.base as m\n"
            "m.Transport._make_event_queue = m.Transport.__dict__['_init_event_queue']\n"
            "del m.Transport._init_event_queue",
            "elasticapm.transport.http.Transport._init_event_queue, an internal of elastic-apm, which it does not "
            "have in elastic-apm {elastic-apm}",
            id="an inherited method renamed",
        ),
        pytest.param(
            "import connexion.middleware.routing as m\n"
            "code = m.RoutingOperation.__call__.__code__\n"
            "consts = tuple(tuple('api_path' if k == 'api_base_path' else k for k in c) if type(c) is tuple else c"
            " for c in code.co_consts)\n"
            "m.RoutingOperation.__call__.__code__ = code.replace(co_consts=consts)",
            "connexion.middleware.routing.RoutingOperation.__call__'s 'api_base_path', an internal of connexion, "
            "which it no longer writes in connexion {connexion}",
            id="a key of the scope renamed",
        ),
    ],
)
def test_an_internal_changed_upstream_stops_the_service_at_start_with_one_line_naming_it(
    change: str, message: str
) -> None:
    stopped = serve_after(change)

    versions = {name: version(name) for name in ("uvicorn", "elastic-apm", "connexion")}
    expected = f"servicekit relies on {message.format_map(versions)}: {BOUNDS}"
    assert stopped.returncode == 1
    assert stopped.stderr.splitlines() == [expected]
    assert stopped.stdout == ""  # stopped before it logged a line, let alone served


def test_the_internals_as_installed_start_the_service() -> None:
    started = serve_after("")
    assert "MissingInternal" not in started.stderr
    assert "relies on" not in started.stderr
    assert "service started" in started.stdout


def third_party_imports() -> set[str]:
    """The distributions of what the kit's code imports, outside the standard library and itself."""
    modules: set[str] = set()
    for path in (KIT_ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.partition(".")[0])
    distributions = packages_distributions()
    third_party = modules - set(sys.stdlib_module_names) - {"servicekit", "__future__"}
    return {canonicalize_name(distributions[module][0]) for module in third_party}


def declared() -> list[Requirement]:
    project = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]
    extras = [requirement for group in project["optional-dependencies"].values() for requirement in group]
    return [Requirement(requirement) for requirement in [*project["dependencies"], *extras]]


def test_every_library_the_kit_imports_is_declared() -> None:
    assert third_party_imports() <= {canonicalize_name(requirement.name) for requirement in declared()}


def test_every_declared_library_is_bounded_from_above() -> None:
    unbounded = [str(r) for r in declared() if not any(spec.operator in ("<", "~=", "==") for spec in r.specifier)]
    assert unbounded == []
