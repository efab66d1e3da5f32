"""The audit trail: one event for each access to personal data, saying who reached what and how it ended.

The kit writes the event; the service says what the access was (its action and details, such as the
filters asked for). A download writes its own when it ends (`Downloads.response(..., audit=...)`); any other
access is made in a block:

    with audited(AuditedAccess("report-summary", caller, {"filters": asked})) as tally:
        tally.rows = count_rows(session, filters)

Events go to the `servicekit.audit` logger as `event.kind: event`, `event.category: database`,
`event.type: access`, with the request id and (under APM) the trace id as on every line of the request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

import structlog

from servicekit.auth.tokens import Caller
from servicekit.logs import AUDIT_LOGGER

log = structlog.get_logger(AUDIT_LOGGER)


class Outcome(StrEnum):
    COMPLETE = "complete"
    ABANDONED = "abandoned"  # the client hung up, or asked for the headers alone (HEAD)
    FAILED = "failed"


# ECS allows only these in event.outcome; `audit.outcome` says how the access ended.
_ECS_OUTCOMES = {Outcome.COMPLETE: "success", Outcome.ABANDONED: "unknown", Outcome.FAILED: "failure"}


@dataclass(frozen=True)
class AuditedAccess:
    """Who asks for which personal data: `action` becomes event.action ("mailing-list-download"), and
    each of `details` a field under `audit.` (`{"filters": {...}}` is `audit.filters`)."""

    action: str
    caller: Caller
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass
class Tally:
    """How an access ended and what it handed over: its rows, known once it is complete, and the bytes of
    a body it sent itself (a download's; None for an answer the framework serialises)."""

    outcome: Outcome = Outcome.ABANDONED
    rows: int | None = None
    bytes: int | None = None


def write_audit_event(access: AuditedAccess, tally: Tally) -> None:
    caller = access.caller
    details = {f"audit.{name}": value for name, value in access.details.items()}
    log.info(
        "audit",
        **details
        | {
            "event.kind": "event",
            "event.category": ["database"],
            "event.type": ["access"],
            "event.action": access.action,
            "event.outcome": _ECS_OUTCOMES[tally.outcome],
            "user.id": caller.object_id,
            "user.name": caller.name,
            "user.app_id": caller.app_id,
            "audit.outcome": str(tally.outcome),
            "audit.rows": tally.rows,
            "audit.bytes": tally.bytes,
        },
    )


@contextmanager
def audited(access: AuditedAccess) -> Iterator[Tally]:
    """An access made within the block, whose event is written as the block ends: complete, or failed if
    it raises. The block sets the tally's rows."""
    tally = Tally()
    try:
        yield tally
    except BaseException:
        tally.outcome = Outcome.FAILED
        raise
    else:
        tally.outcome = Outcome.COMPLETE
    finally:
        write_audit_event(access, tally)
