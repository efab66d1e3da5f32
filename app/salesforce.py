"""A thin Salesforce REST client on httpx: client-credentials login, SOQL queries page by page.

- Login: OAuth 2 client credentials at the org's My Domain token endpoint. That flow gives no refresh token
  and no lifetime, so a session that expires mid-sync (401 `INVALID_SESSION_ID`) is answered by logging in
  again, once per request (`SessionAuth`).
- Queries follow `nextRecordsUrl` until `done`. SOQL is built only from settings, never from a request.
- `REQUEST_LIMIT_EXCEEDED`, 5xx answers and broken connections are retried a few times with jittered,
  growing waits (stamina), then end in a `SalesforceError` that says what happened; every request has a
  timeout.
- Requests are httpx's, so the APM agent traces them as spans; the secret is sent in a form body and
  appears in no log line or error.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import stamina
import structlog

from config import Settings

ATTEMPTS = 4  # the first and three retries
log = structlog.get_logger(__name__)


class SalesforceError(Exception):
    """Salesforce would not answer as it should; the message says what it said, never the secret."""


class Retryable(SalesforceError):
    """A rate limit, a Salesforce fault or a broken connection: worth another try after a wait."""


@dataclass(frozen=True)
class Session:
    access_token: str
    instance_url: str


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
                self._session = self._login()
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
        response = self._client.post(
            f"{self._settings.salesforce_url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self._settings.salesforce_client_id,
                "client_secret": secret.get_secret_value(),
            },
        )
        if response.status_code != 200:
            raise SalesforceError(f"Salesforce refused the login ({response.status_code}): {_described(response)}")
        body = response.json()
        return Session(access_token=body["access_token"], instance_url=body["instance_url"].rstrip("/"))


class SalesforceClient:
    def __init__(self, settings: Settings) -> None:
        if not (settings.salesforce_url and settings.salesforce_client_id and settings.salesforce_client_secret):
            raise SalesforceError(
                "syncing needs SALESFORCE_URL, SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET to be set"
            )
        self._settings = settings
        timeout = httpx.Timeout(settings.salesforce_timeout_seconds)
        self._http = httpx.Client(timeout=timeout)
        self._login_http = httpx.Client(timeout=timeout)
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
        page = self._get(f"{self._api}/query", params={"q": soql})
        while True:
            yield from page["records"]
            if page["done"]:
                return
            page = self._get(page["nextRecordsUrl"])

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """One GET against the instance, retried while Salesforce is busy or failing."""
        try:
            for attempt in stamina.retry_context(on=Retryable, attempts=ATTEMPTS, wait_initial=0.5, wait_max=8):
                with attempt:
                    return self._get_once(path, params)
        except Retryable as exc:
            raise SalesforceError(f"{exc} (gave up after {ATTEMPTS} attempts)") from None
        raise AssertionError("unreachable: stamina either returns or raises")

    def _get_once(self, path: str, params: dict[str, str] | None) -> dict[str, Any]:
        url = self._auth.session().instance_url + path
        try:
            response = self._http.get(url, params=params, auth=self._auth)
        except httpx.TransportError as exc:
            raise Retryable(f"Salesforce could not be reached: {type(exc).__name__}") from None
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        problem = f"Salesforce answered {response.status_code}: {_described(response)}"
        if response.status_code >= 500 or "REQUEST_LIMIT_EXCEEDED" in _error_codes(response):
            log.warning("salesforce busy or failing: retrying", status=response.status_code)
            raise Retryable(problem)
        raise SalesforceError(problem)


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
