"""The check that both fuzz runners add to schemathesis's defaults, registered by `schemathesis.toml`'s `hooks`.

It imports nothing of the app: schemathesis's CLI loads it against a deployed service, from a checkout.
"""

from __future__ import annotations

import schemathesis

# The details of the 400s the spec documents for requests its schema allows (app/data_types.py,
# app/mailing_lists.py, servicekit/validation.py): dates that leave no day between them, communities that
# do not exist, and a single list value that is no item as it stands and no valid CSV line.
DOCUMENTED_RULES = (
    "must be earlier than rfs_date_before",
    "Unknown communities in 'communities'",
    "names no community",
    "is not a comma-separated list",
    "read as a comma-separated list",
)


@schemathesis.check
def documented_rule(_ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A request the schema allows is refused only for one of the documented rules: any other 400 would be the
    service and its spec disagreeing. (schemathesis.toml lets positive_data_acceptance take those 400s.)"""
    if response.status_code == 400 and case.meta is not None and case.meta.generation.mode.is_positive:
        detail = response.json()["detail"]
        assert any(rule in detail for rule in DOCUMENTED_RULES), f"a valid request refused: {detail}"
