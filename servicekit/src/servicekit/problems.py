"""One error model: every error the service returns is RFC 9457 `application/problem+json`.

Bodies carry the request id so a user's report leads straight to the logs, and never a stack
trace or an internal message: those go to the log line of the same request id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import connexion
import elasticapm
import orjson
import sqlalchemy.exc
import structlog
from connexion.exceptions import BadRequestProblem, OAuthScopeProblem, ProblemException, Unauthorized
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from servicekit.auth.permissions import short_name
from servicekit.middleware.request_id import current_request_id

__all__ = ["CONSTRAINT_STATUSES", "DATABASE_UNAVAILABLE_DETAIL", "FAILED", "InvalidParams", "ServiceUnavailable"]

PROBLEM_JSON = "application/problem+json"
DATABASE_RETRY_AFTER_SECONDS = 10
DATABASE_UNAVAILABLE_DETAIL = "The database is unavailable; nothing was changed. Try again shortly."
"""The detail of the 503 answered while the database refuses or does not answer."""
STATEMENT_TIMEOUT_DETAIL = (
    "The database did not finish this request's query within the time the service allows, so the service "
    "stopped it; nothing was changed. Ask for less (narrower filters): the same request would likely take "
    "as long again."
)
# What each integrity violation answers unless the service says otherwise (`service_app(constraints=)`).
# A unique or exclusion violation, or a row another still names (restrict, foreign key), is a conflict
# with what is stored: 409. A missing value or a failed check is what the request asked for breaking
# the table's rules: 422, the request well formed but its content refused (the spec could say more).
CONSTRAINT_STATUSES: Mapping[str, int] = {
    "23505": 409,  # unique_violation
    "23P01": 409,  # exclusion_violation
    "23503": 409,  # foreign_key_violation: names a row that does not exist, or is named by one still
    "23001": 409,  # restrict_violation
    "23502": 422,  # not_null_violation
    "23514": 422,  # check_violation
}
"""The status of each integrity violation, by SQLSTATE, unless the service says otherwise."""
CONSTRAINT_DETAILS = {
    409: "The request conflicts with what is stored (constraint {constraint}); nothing was changed.",
    422: "The request breaks a rule of what is stored (constraint {constraint}); nothing was changed.",
}
# SQLite's names for the violations PostgreSQL gives SQLSTATEs to (the embedded database, local only).
SQLITE_SQLSTATES = {
    "SQLITE_CONSTRAINT_UNIQUE": "23505",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "23505",
    "SQLITE_CONSTRAINT_FOREIGNKEY": "23503",
    "SQLITE_CONSTRAINT_NOTNULL": "23502",
    "SQLITE_CONSTRAINT_CHECK": "23514",
}
FAILED = "The service failed to handle this request; quote the request id when reporting it."
"""The detail of every 500: nothing internal, and the request id to quote."""

ErrorHandler = Callable[[ConnexionRequest, Exception], ConnexionResponse]

log = structlog.get_logger(__name__)


class ServiceUnavailable(Exception):
    """A dependency or a limit stops the service answering now: 503, with when to try again."""

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class InvalidParams(BadRequestProblem):  # type: ignore[misc]
    """A 400 whose `detail` a person reads, and whose `invalid_params` member (RFC 9457's example) a
    program reads: each field refused, as `{"name": ..., "reason": ...}`, a parameter by its name and a
    JSON body's field by its JSON path (`$.notice.starts_at`)."""

    def __init__(self, detail: str, invalid: Iterable[tuple[str, str]]) -> None:
        super().__init__(detail=detail)
        self.ext = {"invalid_params": [{"name": name, "reason": reason} for name, reason in invalid]}


def problem_body(
    status: int, detail: str, title: str | None = None, extensions: Mapping[str, Any] | None = None
) -> bytes:
    """The JSON body of a problem; `title` defaults to the status phrase. Extensions add members, never
    replace the standard ones (a `status` of 200 in a 500's body, say)."""
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "request_id": current_request_id(),
    }
    return orjson.dumps(body | {name: value for name, value in (extensions or {}).items() if name not in body})


def problem_response(
    status: int,
    detail: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=status,
        mimetype=PROBLEM_JSON,
        content_type=PROBLEM_JSON,
        body=problem_body(status, detail, title, extensions),
        headers=headers or {},
    )


def handle_problem(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Problems raised by Connexion (validation, security) or by our own code."""
    assert isinstance(exc, ProblemException)
    _log_refusal(exc.status, str(exc.detail))
    return problem_response(exc.status, str(exc.detail), exc.title, dict(exc.headers or {}), exc.ext)


def handle_unauthenticated(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """401: no token, or one that cannot be trusted (RFC 6750 asks for the challenge header)."""
    assert isinstance(exc, Unauthorized)
    log.info("request refused", status=401, detail=exc.detail)
    return problem_response(401, str(exc.detail), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def handle_missing_permission(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """403: a valid token without the role or scope. Connexion's own message would echo the token's scopes."""
    assert isinstance(exc, OAuthScopeProblem)
    needed = " ".join(sorted(short_name(scope) for scope in exc.required_scopes))
    log.info("request refused", status=403, needed=needed)
    return problem_response(
        403,
        f"The token does not grant {needed}: ask for the app role or the delegated scope.",
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
    )


def handle_unavailable(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ServiceUnavailable)
    log.warning("request refused", status=503, detail=str(exc))
    return problem_response(503, str(exc), headers={"Retry-After": str(exc.retry_after_seconds)})


def handle_database_unavailable(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """The database refused, dropped or did not answer: a dependency failure, not a bug. A statement that
    ran past its statement timeout is another thing: the service stopped it, and the same request would
    likely run as long again, so it is a 504 that says so, with no invitation to retry."""
    # The driver's error says which: refused, dropped, QueryCanceled (a statement timeout), LockNotAvailable.
    driver_error = getattr(exc, "orig", None) or exc
    error = type(driver_error).__name__
    if _past_its_statement_timeout(driver_error):
        log.warning("database statement past its timeout", error=error, timed_out=True)
        return problem_response(504, STATEMENT_TIMEOUT_DETAIL)
    # By name, so that this module needs no driver: a lock wait, a connection or the pool took too long.
    timed_out = error in ("QueryCanceled", "LockNotAvailable", "ConnectionTimeout", "TimeoutError")
    log.warning("database unavailable", error=error, timed_out=timed_out)
    return problem_response(
        503, DATABASE_UNAVAILABLE_DETAIL, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    )


def _past_its_statement_timeout(driver_error: BaseException) -> bool:
    # PostgreSQL gives the service's own statement timeout and any other cancel (a client's cancel request,
    # an administrator's pg_cancel_backend) one SQLSTATE, 57014; only the message tells them apart. A server
    # whose lc_messages is not English reads as any cancel: a 503 with Retry-After, as before.
    return type(driver_error).__name__ == "QueryCanceled" and "statement timeout" in str(driver_error)


def handle_http_exception(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Routing errors (404, 405) and werkzeug errors that Connexion re-raises from Flask."""
    assert isinstance(exc, HTTPException)
    return problem_response(exc.status_code, exc.detail, headers=dict(exc.headers or {}))


def handle_unexpected(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """A bug, turned into a 500 by Connexion's error handling: the APM agent never sees it raised."""
    apm = elasticapm.get_client()
    if apm is not None:
        apm.capture_exception(exc_info=(type(exc), exc, exc.__traceback__), handled=False)  # type: ignore[no-untyped-call]
    return handle_last_resort(request, exc)


def handle_last_resort(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """What escapes every other handler (a stream that broke midway); the APM agent saw it pass."""
    log.error("unhandled error", exc_info=exc)
    return problem_response(500, FAILED)


def answering_integrity_violations(statuses: Mapping[str, int]) -> ErrorHandler:
    """A handler for IntegrityError: the status `statuses` gives the constraint's name, else its SQLSTATE.
    The problem and the log line name the constraint, never the row: PostgreSQL's message quotes the
    values (`Key (email)=(someone@example.org) already exists`), and so does SQLAlchemy's, which adds
    the statement's parameters. The session that raised it has rolled back as its block ended."""

    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, sqlalchemy.exc.IntegrityError)
        sqlstate, constraint = _violated(exc.orig)
        status = statuses.get(constraint or "") or statuses.get(sqlstate or "")
        if status is None:
            return handle_unexpected(request, _without_values(exc, sqlstate, constraint))
        named = constraint or "unnamed"
        log.info("request refused", status=status, sqlstate=sqlstate, constraint=named)
        detail = CONSTRAINT_DETAILS.get(status, CONSTRAINT_DETAILS[409]).format(constraint=named)
        return problem_response(status, detail, extensions={"constraint": named})

    return handle


def _violated(driver_error: BaseException | None) -> tuple[str | None, str | None]:
    """The violation's SQLSTATE and constraint name, from psycopg's diagnostics or SQLite's error name."""
    diagnostics = getattr(driver_error, "diag", None)
    if diagnostics is not None:
        return diagnostics.sqlstate, diagnostics.constraint_name
    return SQLITE_SQLSTATES.get(getattr(driver_error, "sqlite_errorname", "")), None


def _without_values(exc: Exception, sqlstate: str | None, constraint: str | None) -> Exception:
    """An unmapped violation, for the 500's log line and APM: its kind, not the row it quotes."""
    kind = f"{type(exc).__name__}: SQLSTATE {sqlstate}, constraint {constraint}, no status mapped"
    return RuntimeError(kind).with_traceback(exc.__traceback__)


def answering_with(status: int) -> ErrorHandler:
    """A handler for a service's own errors: `status`, with the error's message as the detail. An error
    that names the fields it refuses, as `(name, reason)` pairs in an `invalid_params` attribute, has them
    in the problem's `invalid_params` too, as the kit's own validation gives them."""

    def handle(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        _log_refusal(status, str(exc))
        fields = getattr(exc, "invalid_params", ())
        return problem_response(status, str(exc), extensions=InvalidParams(str(exc), fields).ext if fields else None)

    return handle


def _log_refusal(status: int, detail: str) -> None:
    if status >= 500:
        log.error("request failed", status=status, detail=detail)
    else:
        log.info("request refused", status=status, detail=detail)


KIT_HANDLERS: dict[type[Exception], ErrorHandler] = {
    Unauthorized: handle_unauthenticated,
    OAuthScopeProblem: handle_missing_permission,
    ServiceUnavailable: handle_unavailable,
    sqlalchemy.exc.OperationalError: handle_database_unavailable,
    sqlalchemy.exc.TimeoutError: handle_database_unavailable,
    ProblemException: handle_problem,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def install_problem_handlers(
    app: connexion.FlaskApp,
    statuses: Mapping[type[Exception], int],
    constraints: Mapping[str, int] | None = None,
) -> None:
    """The kit's handlers, and `statuses`: the one place a service says which status each of its errors gets.
    A service's subclass of an error the kit handles gets its own status; the kit's own classes keep theirs.
    `constraints` maps a constraint's name or a SQLSTATE to the status its violation answers with, over
    CONSTRAINT_STATUSES."""
    taken = sorted(error.__name__ for error in statuses.keys() & {*KIT_HANDLERS, sqlalchemy.exc.IntegrityError})
    if taken:
        raise ValueError(f"the kit answers {', '.join(taken)} itself: map a subclass of your own instead")
    for error, handler in KIT_HANDLERS.items():
        app.add_error_handler(error, handler)
    integrity = answering_integrity_violations({**CONSTRAINT_STATUSES, **(constraints or {})})
    app.add_error_handler(sqlalchemy.exc.IntegrityError, integrity)
    for error, status in statuses.items():
        app.add_error_handler(error, answering_with(status))
