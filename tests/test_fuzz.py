"""Spec-driven fuzzing: schemathesis generates requests for every operation of the spec (its examples,
values at and past each parameter's bounds, random valid and invalid ones), sends them to the live
server and checks each answer against the spec with its default checks: never a 5xx, and every status,
content type, header and body is one the operation declares.

The budget is bounded and the run reproducible: a fixed seed, deterministic generation and a few
examples per operation. `scripts/fuzz_live.sh` runs the same fuzzer against a running service; both read
their settings, and the `documented_rule` check, from `tests/fuzz/` (its docstring says why).

The schema is the spec as the service serves it (test_spec.py holds /openapi.json equal to it), built
at import so that schemathesis can give each operation a test of its own; the requests go to the live
server. (schemathesis.pytest.from_fixture, the lazy way to load /openapi.json, breaks on pytest 9.2.)
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import settings

from app import SPECIFICATION
from config import Settings
from servicekit.spec import HTTP_METHODS, configured_spec
from servicekit.testing import FakeEntra, LiveServer, settings_for_tests

# Loading it loads its hooks: documented_rule joins the default checks.
FUZZ_CONFIG = Path(__file__).parent / "fuzz" / "schemathesis.toml"

spec = schemathesis.openapi.from_dict(
    configured_spec(SPECIFICATION, settings_for_tests(Settings)),
    config=schemathesis.Config.from_path(FUZZ_CONFIG),
)


def test_the_fuzz_config_names_only_operations_of_the_spec() -> None:
    """A filter naming an operation id the spec lacks matches nothing and says nothing: the documented 400s
    would then fail both runs' positive-data check."""
    paths = yaml.safe_load(SPECIFICATION.read_text())["paths"]
    operation_ids = {
        item[method]["operationId"] for item in paths.values() for method in HTTP_METHODS if method in item
    }
    named: set[str] = set()
    for operation in tomllib.loads(FUZZ_CONFIG.read_text())["operations"]:
        ids = operation["include-operation-id"]
        named.update([ids] if isinstance(ids, str) else ids)
    assert named
    assert named <= operation_ids, f"not operation ids of {SPECIFICATION.name}: {sorted(named - operation_ids)}"


@pytest.fixture(scope="module")
def marketing(fake_entra: FakeEntra) -> dict[str, str]:
    """Headers of a marketing user whose token grants Directmail.Read (the `staff` fixture's, for the module:
    hypothesis runs many examples in one test)."""
    return {"Authorization": f"Bearer {fake_entra.make_token(roles=['Directmail.Read'])}"}


@pytest.mark.slow
@spec.parametrize()
@settings(deadline=None)
def test_staff_get_only_answers_the_spec_declares(
    case: schemathesis.Case, live_server: LiveServer, marketing: dict[str, str]
) -> None:
    case.call_and_validate(base_url=live_server.url, headers=marketing)


@pytest.mark.slow
@spec.parametrize()
@settings(deadline=None)
def test_without_a_token_every_answer_is_a_declared_401(case: schemathesis.Case, live_server: LiveServer) -> None:
    response = case.call_and_validate(base_url=live_server.url)
    secured = case.operation.definition.raw.get("security") != []  # the probes are open to anyone
    # The coverage phase also tries methods the path lacks (405); the HTTP server refuses a URL past its
    # limit (414) before it reads the headers, where the token would be.
    if secured and case.method == case.operation.method.upper() and response.status_code != 414:
        assert response.status_code == 401, response.text
