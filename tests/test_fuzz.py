"""Spec-driven fuzzing: schemathesis generates requests for every operation of the spec (its examples,
values at and past each parameter's bounds, random valid and invalid ones), sends them to the live
server and checks each answer against the spec with its default checks: never a 5xx, and every status,
content type, header and body is one the operation declares.

The budget is bounded and the run reproducible: a fixed seed, deterministic generation and a few
examples per operation. `scripts/fuzz_live.sh` runs the same fuzzer against a deployed service.

The schema is the spec as the service serves it (test_spec.py holds /openapi.json equal to it), built
at import so that schemathesis can give each operation a test of its own; the requests go to the live
server. (schemathesis.pytest.from_fixture, the lazy way to load /openapi.json, breaks on pytest 9.2.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import settings

from app import SPECIFICATION
from config import Settings
from servicekit.spec import configured_spec
from servicekit.testing import FakeEntra, LiveServer, settings_for_tests

# Examples per operation and generation mode in the fuzzing phase; the examples and coverage phases
# add their own (a few dozen per operation).
MAX_EXAMPLES = 20
SEED = 20261128

# A request the schema allows can still break a rule the schema cannot express: communities that do not
# exist, or dates that leave no day between them. The spec documents those 400s; the positive-data check
# expects them there, and `documented_rule` below holds each such 400 to those rules.
FILTERING_OPERATIONS = ["get_directmail_csv", "get_directmail_summary"]
ACCEPTED_OR_DOCUMENTED_RULE = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]

spec = schemathesis.openapi.from_dict(
    configured_spec(SPECIFICATION, settings_for_tests(Settings)),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "operations": [
                {
                    "include-operation-id": operation_id,
                    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_OR_DOCUMENTED_RULE}},
                }
                for operation_id in FILTERING_OPERATIONS
            ],
        }
    ),
)

pytestmark = pytest.mark.slow

# The documented rules' details (app/data_types.py, app/mailing_lists.py).
DOCUMENTED_RULES = (
    "must be earlier than rfs_date_before",
    "Unknown communities in 'communities'",
    "names no community",
)


def documented_rule(_ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A request the schema allows is refused only for one of the documented rules: any other 400 would
    be the service and its spec disagreeing."""
    if response.status_code == 400 and case.meta is not None and case.meta.generation.mode.is_positive:
        detail = response.json()["detail"]
        assert any(rule in detail for rule in DOCUMENTED_RULES), f"a valid request refused: {detail}"


@pytest.fixture(scope="module")
def marketing(fake_entra: FakeEntra) -> dict[str, str]:
    """Headers of a marketing user whose token grants Directmail.Read (the `staff` fixture's, for the module:
    hypothesis runs many examples in one test)."""
    return {"Authorization": f"Bearer {fake_entra.make_token(roles=['Directmail.Read'])}"}


@spec.parametrize()
@settings(deadline=None)
def test_staff_get_only_answers_the_spec_declares(
    case: schemathesis.Case, live_server: LiveServer, marketing: dict[str, str]
) -> None:
    case.call_and_validate(base_url=live_server.url, headers=marketing, additional_checks=[documented_rule])


@spec.parametrize()
@settings(deadline=None)
def test_without_a_token_every_answer_is_a_declared_401(case: schemathesis.Case, live_server: LiveServer) -> None:
    response = case.call_and_validate(base_url=live_server.url)
    secured = case.operation.definition.raw.get("security") != []  # the probes are open to anyone
    # The coverage phase also tries methods the path lacks (405); the HTTP server refuses a URL past its
    # limit (414) before it reads the headers, where the token would be.
    if secured and case.method == case.operation.method.upper() and response.status_code != 414:
        assert response.status_code == 401, response.text
