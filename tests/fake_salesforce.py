"""A real HTTP server on loopback standing in for a Salesforce org, which cannot run here: the client
credentials token endpoint, SOQL queries answered a page at a time with `nextRecordsUrl`, and faults on
demand, each spent on the next request of its kind: an expired session, a rate limit, a 500, a 503, a
connection dropped without an answer, and answers no real org gives (an HTML page, broken JSON, a field
missing, a URL on another host)."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from servicekit.testing.loopback import LoopbackHandler, LoopbackServer

CLIENT_ID = "3MVG9-fake-consumer-key"
CLIENT_SECRET = "fake-consumer-secret"
API = "/services/data/v62.0"
SESSION_EXPIRED = (401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
NOT_FOUND = (404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
# status, body (JSON unless bytes), and for bytes their content type
Answer = tuple[int, Any] | tuple[int, bytes, str]
FAULTS: dict[str, Answer] = {
    "rate_limit": (403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
    "error_500": (500, [{"message": "An unexpected error occurred.", "errorCode": "UNKNOWN_EXCEPTION"}]),
    "unavailable": (503, [{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}]),
    "html": (200, b"<html><body>Down for maintenance</body></html>", "text/html; charset=UTF-8"),
    "broken_json": (200, b'{"totalSize": 3, "records": [', "application/json"),
    "a_list": (200, []),
    "no_access_token": (200, {"instance_url": "set by the fake", "token_type": "Bearer"}),
    "no_records": (200, {"totalSize": 0, "done": True}),
    "no_done": (200, {"totalSize": 0, "records": []}),
    "not_done_and_nowhere_next": (200, {"totalSize": 9, "done": False, "records": []}),
}


def community_record(salesforce_id: str, name: str, rfs: bool, rfs_date: str | None) -> dict[str, Any]:
    return {
        "attributes": {"type": "Community__c", "url": f"{API}/sobjects/Community__c/{salesforce_id}"},
        "Id": salesforce_id,
        "Name": name,
        "RFS__c": rfs,
        "RFS_Date__c": rfs_date,
    }


class FakeSalesforce:
    def __init__(self, records: list[dict[str, Any]], *, page_size: int = 2) -> None:
        self.records = records
        self.page_size = page_size
        # For the next query requests, one each: "expire_session", "drop", a key of FAULTS, or "" for none.
        self.faults: list[str] = []
        # The same, for the next logins.
        self.login_faults: list[str] = []
        self.logins = 0
        self.queries: list[str] = []
        self.server = LoopbackServer(_handler_for(self))
        self.url = self.server.url
        # What the token endpoint gives as the instance's URL, and what each page's nextRecordsUrl starts with.
        self.instance_url = self.url
        self.next_records_prefix = f"{API}/query/01gFAKE0000000001"
        self._sessions: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> FakeSalesforce:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def login(self, form: dict[str, list[str]]) -> Answer | None:
        """The token endpoint's answer, or None to drop the connection."""
        fault = self.login_faults.pop(0) if self.login_faults else None
        if fault == "drop":
            return None
        if fault in FAULTS:
            return FAULTS[fault]
        if form.get("client_id") != [CLIENT_ID] or form.get("client_secret") != [CLIENT_SECRET]:
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        with self._lock:
            self.logins += 1
            token = f"00Dfake!session-{self.logins}"
            self._sessions.add(token)
        return 200, {"access_token": token, "instance_url": self.instance_url, "token_type": "Bearer"}

    def query(self, path: str, query: dict[str, list[str]], authorization: str) -> Answer | None:
        """The answer to a query request, or None to drop the connection."""
        fault = self.faults.pop(0) if self.faults else None
        if fault == "drop":
            return None
        if fault == "expire_session":
            self._sessions.clear()
        if authorization.removeprefix("Bearer ") not in self._sessions:
            return SESSION_EXPIRED
        if fault in FAULTS:
            return FAULTS[fault]
        if path == f"{API}/query":
            self.queries.append(query["q"][0])
            return 200, self._page(0)
        if path.startswith(f"{API}/query/01gFAKE0000000001-"):
            return 200, self._page(int(path.rsplit("-", 1)[1]))
        return NOT_FOUND

    def _page(self, start: int) -> dict[str, Any]:
        end = start + self.page_size
        page: dict[str, Any] = {
            "totalSize": len(self.records),
            "done": end >= len(self.records),
            "records": self.records[start:end],
        }
        if not page["done"]:
            page["nextRecordsUrl"] = f"{self.next_records_prefix}-{end}"
        return page


def _handler_for(salesforce: FakeSalesforce) -> type[LoopbackHandler]:
    class Handler(LoopbackHandler):
        def do_POST(self) -> None:
            if self.path != "/services/oauth2/token":
                self.reply(404, b"[]")
                return
            self.answer(salesforce.login(parse_qs(self.request_body().decode())))

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            self.answer(salesforce.query(parts.path, parse_qs(parts.query), self.headers.get("Authorization", "")))

        def answer(self, answer: Answer | None) -> None:
            if answer is None:
                self.close_connection = True
                return
            if len(answer) == 3:
                self.reply(answer[0], answer[1], answer[2])
            else:
                self.reply(answer[0], json.dumps(answer[1]).encode())

    return Handler
