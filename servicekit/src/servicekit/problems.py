"""One error model: every error the service returns is RFC 9457 `application/problem+json`.

Bodies carry the request id so a user's report leads straight to the logs, and never a stack
trace or an internal message: those go to the log line of the same request id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import connexion
import elasticapm
import orjson
import sqlalchemy.exc
import structlog
from connexion.exceptions import OAuthScopeProblem, ProblemException, Unauthorized
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from servicekit.auth.permissions import short_name
from servicekit.middleware.request_id import current_request_id

__all__ = ["DATABASE_UNAVAILABLE_DETAIL", "FAILED", "ServiceUnavailable"]

PROBLEM_JSON = "application/problem+json"
DATABASE_RETRY_AFTER_SECONDS = 10
DATABASE_UNAVAILABLE_DETAIL = "The database is unavailable; nothing was changed. Try again shortly."
"""The detail of the 503 answered while the database refuses or does not answer."""
STATEMENT_TIMEOUT_DETAIL = (
    "The database did not finish this request's query within the time the service allows, so the service "
    "stopped it; nothing was changed. Ask for less (narrower filters): the same request would likely take "
    "as long again."
)
FAILED = "The service failed to handle this request; quote the request id when reporting it."
"""The detail of every 500: nothing internal, and the request id to quote."""

ErrorHandler = Callable[[ConnexionRequest, Exception], ConnexionResponse]

log = structlog.get_logger(__name__)


class ServiceUnavailable(Exception):
    """A dependency or a limit stops the service answering now: 503, with when to try again."""

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


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


def answering_with(status: int) -> ErrorHandler:
    """A handler for a service's own errors: `status`, with the error's message as the detail."""

    def handle(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        _log_refusal(status, str(exc))
        return problem_response(status, str(exc))

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


def install_problem_handlers(app: connexion.FlaskApp, statuses: Mapping[type[Exception], int]) -> None:
    """The kit's handlers, and `statuses`: the one place a service says which status each of its errors gets.
    A service's subclass of an error the kit handles gets its own status; the kit's own classes keep theirs."""
    taken = sorted(error.__name__ for error in statuses.keys() & KIT_HANDLERS.keys())
    if taken:
        raise ValueError(f"the kit answers {', '.join(taken)} itself: map a subclass of your own instead")
    for error, handler in KIT_HANDLERS.items():
        app.add_error_handler(error, handler)
    for error, status in statuses.items():
        app.add_error_handler(error, answering_with(status))
