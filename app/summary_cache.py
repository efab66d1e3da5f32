"""Summaries kept for the data they were counted on: a repeated summary (Swagger UI's preview as a user
changes filters back and forth, a service polling) costs one read of the data's version, not a count.

An entry is keyed by the filters and the data's version, which triggers move on at every write to
communities or premises (migration 0004): once the data changes, no request asks for the old entries
again, and they age out of the LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy.orm import Session

from app.data_queries import current_data_version
from app.data_types import ExportFilters, MailingSummary
from app.mailing_lists import summary

# SUMMARY_CACHE_ENTRIES's default: a summary is a few hundred bytes, all of them together well under a megabyte.
ENTRIES = 512


class SummaryCache:
    def __init__(self, entries: int = ENTRIES) -> None:
        self.entries = entries
        self._kept: OrderedDict[tuple[int, ExportFilters], MailingSummary] = OrderedDict()
        self._lock = threading.Lock()  # Flask's worker threads share it

    def summary(self, session: Session, filters: ExportFilters) -> MailingSummary:
        """The summary of the data as `session` sees it. The version is read first, so an entry is never older
        than the version it is kept under (a write committed in between only makes it newer). Kept in none
        of its entries (there are none), it is counted without reading the version."""
        if not self.entries:
            return summary(session, filters)
        key = (current_data_version(session), filters)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept
        counted = summary(session, filters)  # refuses unknown communities: a refusal is never kept
        with self._lock:
            self._kept[key] = counted
            if len(self._kept) > self.entries:
                self._kept.popitem(last=False)
        return counted
