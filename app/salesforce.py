"""A thin Salesforce REST client on httpx: client-credentials login, SOQL queries page by page.

- Login: OAuth 2 client credentials at the org's My Domain token endpoint. That flow gives no refresh token
  and no lifetime, so a session that expires mid-sync (401 `INVALID_SESSION_ID`) is answered by logging in
  again, once per request (`SessionAuth`).
- Queries follow `nextRecordsUrl` until `done`. SOQL is built only from settings, never from a request.
- Every URL Salesforce hands back (the login's `instance_url`, each `nextRecordsUrl`) is followed only on
  the configured org's own scheme, host and port: the session token goes nowhere else.
- `REQUEST_LIMIT_EXCEEDED`, 5xx answers and broken connections, at login as on every page, are retried
  with jittered, growing waits (stamina), exactly `ATTEMPTS` times in all, then end in a `SalesforceError`
  that says what happened; every request has a timeout. An answer that is not what the API returns (not
  JSON, an HTML page, a field missing) is a `SalesforceError` naming what was wrong, never a traceback.
- Requests are httpx's, so the APM agent traces them as spans; the secret is sent in a form body and
  appears in no log line or error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import stamina
import structlog

from config import Settings

ATTEMPTS = 4  # the first and three retries
log = structlog.get_logger(__name__)
Answer = TypeVar("Answer")


class SalesforceError(Exception):
    """Salesforce would not answer as it should; the message says what it said, never the secret."""


class Retryable(SalesforceError):
    """A rate limit, a Salesforce fault or a broken connection: worth another try after a wait."""


@dataclass(frozen=True)
class Session:
    access_token: str
    instance_url: httpx.URL


def with_retries(what: Callable[[], Answer]) -> Answer:
    """`what()`, tried again while it raises Retryable, ATTEMPTS times in all (no time cap: each try has
    its own timeout, so the count in the message is the count made)."""
    made = 0
    try:
        for attempt in stamina.retry_context(
            on=Retryable, attempts=ATTEMPTS, timeout=None, wait_initial=0.5, wait_max=8
        ):
            with attempt:
                made = attempt.num
                return what()
    except Retryable as exc:
        raise SalesforceError(f"{exc} (gave up after {made} attempts)") from None
    raise AssertionError("unreachable: stamina either returns or raises")


class SessionAuth(httpx.Auth):
    """Logs in on first use; logs in again, once, when Salesforce says the session is no longer valid."""

    requires_response_body = True

    def __init__(self, settings: Settings, client: httpx.Client) -> None:
        self._settings = settings
        self._client = client
        self._session: Session | None = None
        self._lock = threading.Lock()

    def session(self) -> Session:
        with self._lock:
            if self._session is None:
                self._session = with_retries(self._login)
            return self._session

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        used = self.session()
        request.headers["Authorization"] = f"Bearer {used.access_token}"
        response = yield request
        if response.status_code == 401 and "INVALID_SESSION_ID" in _error_codes(response):
            log.info("salesforce session expired: logging in again")
            with self._lock:
                if self._session == used:
                    self._session = None
            request.headers["Authorization"] = f"Bearer {self.session().access_token}"
            yield request

    def _login(self) -> Session:
        secret = self._settings.salesforce_client_secret
        assert secret is not None  # checked by SalesforceClient
        form = {
            "grant_type": "client_credentials",
            "client_id": self._settings.salesforce_client_id,
            "client_secret": secret.get_secret_value(),
        }
        response = _sent(lambda: self._client.post(f"{self._settings.salesforce_url}/services/oauth2/token", data=form))
        if response.status_code != 200:
            _raise_for(response, f"Salesforce's login answered {response.status_code}")
        body = _json_object(response, "the login")
        access_token, instance_url = body.get("access_token"), body.get("instance_url")
        if not (isinstance(access_token, str) and access_token and isinstance(instance_url, str)):
            raise SalesforceError("Salesforce's answer to the login has no access_token or instance_url")
        return Session(access_token=access_token, instance_url=_on_org(self._settings, instance_url, "instance_url"))


class SalesforceClient:
    def __init__(self, settings: Settings) -> None:
        if not (settings.salesforce_url and settings.salesforce_client_id and settings.salesforce_client_secret):
            raise SalesforceError(
                "syncing needs SALESFORCE_URL, SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET to be set"
            )
        self._settings = settings
        timeout = httpx.Timeout(settings.salesforce_timeout_seconds)
        # Redirects are not followed: a redirect elsewhere would carry the session token with it.
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._login_http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._auth = SessionAuth(settings, self._login_http)
        self._api = f"/services/data/v{settings.salesforce_api_version}"

    def close(self) -> None:
        self._http.close()
        self._login_http.close()

    def __enter__(self) -> SalesforceClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def records(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every record `soql` selects, page after page."""
        page = self._page(f"{self._api}/query", params={"q": soql})
        while True:
            yield from page["records"]
            if page["done"]:
                return
            page = self._page(page["nextRecordsUrl"])

    def _page(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """One page of a query's answer, checked to be one."""
        body = with_retries(lambda: self._get_once(path, params))
        records, done, following = body.get("records"), body.get("done"), body.get("nextRecordsUrl")
        if not (isinstance(records, list) and all(isinstance(record, dict) for record in records)):
            raise SalesforceError("Salesforce's answer to the query has no list of records")
        if not isinstance(done, bool):
            raise SalesforceError("Salesforce's answer to the query does not say whether it is done")
        if not done and not isinstance(following, str):
            raise SalesforceError("Salesforce's answer to the query is not done and has no nextRecordsUrl")
        return body

    def _get_once(self, path: str, params: dict[str, str] | None) -> dict[str, Any]:
        url = _on_org(self._settings, str(self._auth.session().instance_url.join(path)), "nextRecordsUrl")
        response = _sent(lambda: self._http.get(url, params=params, auth=self._auth))
        if response.status_code != 200:
            _raise_for(response, f"Salesforce answered {response.status_code}")
        return _json_object(response, "the query")


def _sent(request: Callable[[], httpx.Response]) -> httpx.Response:
    """The response to `request()`; a connection that failed or timed out is worth another try."""
    try:
        return request()
    except httpx.TransportError as exc:
        raise Retryable(f"Salesforce could not be reached: {type(exc).__name__}") from None


def _raise_for(response: httpx.Response, answered: str) -> None:
    problem = f"{answered}: {_described(response)}"
    if response.status_code >= 500 or "REQUEST_LIMIT_EXCEEDED" in _error_codes(response):
        log.warning("salesforce busy or failing: retrying", status=response.status_code)
        raise Retryable(problem)
    raise SalesforceError(problem)


def _on_org(settings: Settings, url: str, what: str) -> httpx.URL:
    """`url`, if it is on the configured org's scheme, host and port."""
    org, given = httpx.URL(settings.salesforce_url), httpx.URL(url)
    if (given.scheme, given.host, given.port) != (org.scheme, org.host, org.port):
        raise SalesforceError(f"Salesforce's {what} points away from {org.host}: not followed")
    return given


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        raise SalesforceError(f"Salesforce's answer to {what} is not JSON ({kind})") from None
    if not isinstance(body, dict):
        raise SalesforceError(f"Salesforce's answer to {what} is not a JSON object")
    return body


def _error_codes(response: httpx.Response) -> set[str]:
    """Salesforce's error codes: its errors are a JSON list of {message, errorCode}."""
    try:
        errors = response.json()
    except ValueError:
        return set()
    return (
        {error.get("errorCode", "") for error in errors if isinstance(error, dict)}
        if isinstance(errors, list)
        else set()
    )


def _described(response: httpx.Response) -> str:
    try:
        errors = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(errors, list):
        return "; ".join(
            f"{error.get('errorCode')}: {error.get('message')}" for error in errors if isinstance(error, dict)
        )
    if isinstance(errors, dict) and "error" in errors:  # the token endpoint's OAuth errors
        return f"{errors['error']}: {errors.get('error_description', '')}"
    return response.reason_phrase
