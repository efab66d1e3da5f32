"""The audit trail: one event for each access to personal data, saying who reached what and how it ended.

The kit writes the event; the service says what the access was (its action and details, such as the
filters asked for). A download writes its own when it ends (`Downloads.response(..., audit=...)`); any other
access is made in a block:

    with audited(AuditedAccess("report-summary", caller, {"filters": asked}), refused=(UnknownName,)) as tally:
        tally.rows = count_rows(session, filters)

Events go to the `servicekit.audit` logger as `event.kind: event`, `event.category: database`,
`event.type: access`, with the request id and (under APM) the trace id as on every line of the request;
and, for a service whose parts hold an `AuditStore`, to its database's `audit_events` table as well
(`servicekit.audit_store`), where `run.py audit` finds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import connexion.context
import elasticapm
import flask
import structlog

from servicekit.auth.tokens import Caller
from servicekit.logs import AUDIT_LOGGER
from servicekit.middleware.request_id import current_caller_request_id, current_request_id
from servicekit.parts import Parts

__all__ = ["AuditEvent", "AuditedAccess", "Outcome", "Tally", "audited", "audited_if_refused"]

log = structlog.get_logger(AUDIT_LOGGER)


class Outcome(StrEnum):
    """How an audited access ended: `audit.outcome` in its event."""

    COMPLETE = "complete"
    ABANDONED = "abandoned"  # the client hung up, or asked for the headers alone (HEAD)
    CUT_AT_SHUTDOWN = "cut-at-shutdown"  # the service stopped before the client had it all
    FAILED = "failed"  # the service or its database failed
    REFUSED = "refused"  # turned away before any data was read (an unknown name, every download slot taken)


# ECS allows only these in event.outcome; `audit.outcome` says how the access ended.
_ECS_OUTCOMES = {
    Outcome.COMPLETE: "success",
    Outcome.ABANDONED: "unknown",
    Outcome.CUT_AT_SHUTDOWN: "failure",
    Outcome.FAILED: "failure",
    Outcome.REFUSED: "failure",
}


@dataclass(frozen=True)
class AuditedAccess:
    """Who asks for which personal data: `action` becomes event.action ("report-download"), and
    each of `details` a field under `audit.` (`{"filters": {...}}` is `audit.filters`)."""

    action: str
    caller: Caller
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass
class Tally:
    """How an access ended and what it handed over: its rows, known once it is complete, and the bytes of
    a body it sent itself that reached the client (a download's; None for an answer the framework
    serialises)."""

    outcome: Outcome = Outcome.ABANDONED
    rows: int | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class AuditEvent:
    """One event as the trail keeps it: the log line's fields, and a row of `audit_events`."""

    at: dt.datetime
    action: str
    outcome: Outcome
    user_id: str | None
    user_name: str | None
    app_id: str | None
    details: Mapping[str, Any]
    rows: int | None
    bytes: int | None
    request_id: str | None
    caller_request_id: str | None
    trace_id: str | None


class AuditSink:
    """Where a service keeps its events besides the log (`servicekit.audit_store.AuditStore`): `keep()` is
    called on the thread that writes the event, so it must neither block nor raise."""

    def keep(self, event: AuditEvent) -> None:
        raise NotImplementedError


def audit_event(access: AuditedAccess, tally: Tally) -> AuditEvent:
    """The event of `access` ended as `tally` says, with the ids of the request being served."""
    caller = access.caller
    return AuditEvent(
        at=dt.datetime.now(dt.UTC),
        action=access.action,
        outcome=tally.outcome,
        user_id=caller.object_id,
        user_name=caller.name,
        app_id=caller.app_id,
        details=dict(access.details),
        rows=tally.rows,
        bytes=tally.bytes,
        request_id=current_request_id(),
        caller_request_id=current_caller_request_id(),
        trace_id=elasticapm.get_trace_id(),  # type: ignore[no-untyped-call]
    )


def write_audit_event(access: AuditedAccess, tally: Tally, sink: AuditSink | None) -> None:
    """Logs the event, then hands it to `sink` (the serving app's, from `audit_sink()`), if any."""
    event = audit_event(access, tally)
    log.info(
        "audit",
        **{f"audit.{name}": value for name, value in event.details.items()}
        | {
            "event.kind": "event",
            "event.category": ["database"],
            "event.type": ["access"],
            "event.action": event.action,
            "event.outcome": _ECS_OUTCOMES[event.outcome],
            "user.id": event.user_id,
            "user.name": event.user_name,
            "user.app_id": event.app_id,
            "audit.outcome": str(event.outcome),
            "audit.rows": event.rows,
            "audit.bytes": event.bytes,
        },
    )
    if sink is not None:
        sink.keep(event)


def audit_sink() -> AuditSink | None:
    """The `AuditSink` of the app serving the request, if it has one."""
    try:
        scope = connexion.context.scope
        return Parts.of(scope).find(AuditSink)
    except (RuntimeError, KeyError):  # outside a request (a command, a test), or an app without parts
        return None


@contextmanager
def audited(access: AuditedAccess, *, refused: tuple[type[BaseException], ...] = ()) -> Iterator[Tally]:
    """An access made within the block, whose event is written as the block ends: complete (abandoned
    for HEAD, which hands nothing over), refused if it raises one of `refused`, failed if it raises
    anything else. The block sets the tally's rows."""
    tally, sink = Tally(), audit_sink()
    try:
        yield tally
    except refused:
        tally.outcome = Outcome.REFUSED
        raise
    except BaseException:
        tally.outcome = Outcome.FAILED
        raise
    else:
        if flask.has_request_context() and flask.request.method == "HEAD":
            tally.outcome, tally.rows = Outcome.ABANDONED, None
        else:
            tally.outcome = Outcome.COMPLETE
    finally:
        write_audit_event(access, tally, sink)


@contextmanager
def audited_if_refused(access: AuditedAccess, refused: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Checks made before an access whose own event comes later (a download's): the block writes an
    event only if it raises, refused for one of `refused` and failed for anything else."""
    try:
        yield
    except refused:
        write_audit_event(access, Tally(Outcome.REFUSED), audit_sink())
        raise
    except BaseException:
        write_audit_event(access, Tally(Outcome.FAILED), audit_sink())
        raise
