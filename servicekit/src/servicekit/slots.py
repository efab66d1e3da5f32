"""Download slots: at most `concurrency` downloads at once, and at most `per_caller` of them any one
caller's, so that one caller cannot hold every slot by asking again as each ends.

A caller is whoever the request's token names; a download of an operation without security has no
caller, and counts towards the total alone. A refusal is a 503 with Retry-After at once, never a queue.
"""

from __future__ import annotations

import threading
from collections import Counter

from servicekit.problems import ServiceUnavailable

RETRY_AFTER_SECONDS = 30

Caller = str | None


class Slots:
    def __init__(self, concurrency: int, per_caller: int | None = None) -> None:
        self.concurrency = concurrency
        self.per_caller = concurrency if per_caller is None else min(per_caller, concurrency)
        self._taken = 0
        self._by_caller: Counter[Caller] = Counter()
        self._lock = threading.Lock()  # taken on the event loop and given back from worker threads

    @property
    def taken(self) -> int:
        with self._lock:
            return self._taken

    def admit(self, caller: Caller) -> Slot:
        """A slot for `caller`'s download; raises ServiceUnavailable when every slot is taken, or when as
        many as one caller may hold are `caller`'s."""
        with self._lock:
            if self._taken >= self.concurrency:
                raise ServiceUnavailable(
                    f"All {self.concurrency} download slots are busy: try again shortly.", RETRY_AFTER_SECONDS
                )
            if caller is not None and self._by_caller[caller] >= self.per_caller:
                raise ServiceUnavailable(
                    f"Your downloads take {self.per_caller} of the slots, as many as one caller may:"
                    " try again when one has ended.",
                    RETRY_AFTER_SECONDS,
                )
            self._taken += 1
            self._by_caller[caller] += 1
        return Slot(self, caller)

    def _give_back(self, caller: Caller) -> None:
        with self._lock:
            self._taken -= 1
            self._by_caller[caller] -= 1
            if not self._by_caller[caller]:
                del self._by_caller[caller]


class Slot:
    """One admitted download's slot, given back once: by the download that claimed it when it ends, or,
    when no download claimed it (the view refused the request, say), by whoever admitted it."""

    def __init__(self, slots: Slots, caller: Caller) -> None:
        self._slots = slots
        self._caller = caller
        self._claimed = False
        self._given_back = False
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """The download takes the slot over, to give back when it ends; False if it was given back already
        (the request's admission ended first, as when the server's shutdown cuts it)."""
        with self._lock:
            self._claimed = not self._given_back
            return self._claimed

    def give_back(self, *, unless_claimed: bool = False) -> None:
        with self._lock:
            if self._given_back or (unless_claimed and self._claimed):
                return
            self._given_back = True
        self._slots._give_back(self._caller)
