"""Directmail's rules for a mailing list: which requests it can meet, its summary, and the file itself."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.data_queries import CsvPieces, community_names, mailing_list_counts, mailing_list_pieces
from app.data_types import ExportFilters, MailingSummary
from app.errors import MailingListError
from servicekit import AuditedAccess
from servicekit.auth.tokens import Caller
from servicekit.excerpts import excerpt

# Excel reads a CSV file as UTF-8 only when it starts with a byte-order mark.
EXCEL_BOM = "\ufeff".encode()
# What the audit trail calls each access to a mailing list (event.action).
DOWNLOAD = "mailing-list-download"
SUMMARY = "mailing-list-summary"
# How many unknown communities a refusal names, each as an excerpt: enough to spot a typo, and a short
# answer (and little work finding suggestions) however many a request names.
QUOTED_UNKNOWN = 3
# How much of the first community's name a file name keeps.
NAME_SLUG_LENGTH = 30


def check_communities_exist(session: Session, filters: ExportFilters) -> None:
    """Every community asked for must exist by its exact name, or the list would silently miss it."""
    if filters.communities:
        _refuse_unknown(session, filters.communities, set(community_names(session)))


def summary(session: Session, filters: ExportFilters) -> MailingSummary:
    """The mailing list's counts, from one query that also tells which communities asked for exist: refuses
    (MailingListError) those that do not, as `check_communities_exist` would."""
    counts = mailing_list_counts(session, filters)
    if filters.communities:
        _refuse_unknown(session, filters.communities, {count.name for count in counts})
    held = [count for count in counts if count.premises]
    return MailingSummary(total=sum(count.premises for count in held), communities=held)


def mailing_list_csv(connection: Connection, filters: ExportFilters) -> CsvPieces:
    """The mailing list as CSV, in pieces as the database produces them, then its row count."""
    return mailing_list_pieces(connection, filters)


def mailing_list_access(action: str, caller: Caller, filters: ExportFilters) -> AuditedAccess:
    """An access to a mailing list as the audit trail records it: who, and the filters they asked for."""
    return AuditedAccess(action, caller, {"filters": filters_asked(filters)})


def could_reach_community(details: Mapping[str, Any], community: str) -> bool:
    """Whether an access recorded with these audit details could reach the community's premises: one
    that named it, or one that named no community at all (the whole list)."""
    asked = details.get("filters", {}).get("communities")
    return asked is None or community in asked


def filters_asked(filters: ExportFilters) -> dict[str, object]:
    """The filters that were set, as JSON values."""
    asked = {field.name: getattr(filters, field.name) for field in dataclasses.fields(filters)}
    return {name: _json_value(value) for name, value in asked.items() if value is not None}


def download_name(filters: ExportFilters, today: dt.date) -> str:
    """The file's name, saying what it holds so that two lists of one day never collide in Downloads:
    `directmail-winson-and-2-more-rfs-s1-s2-2026-12-07.csv`. ASCII letters, digits and hyphens only, so
    that Windows, macOS and every HTTP client keep it as it is."""
    communities = filters.communities or ()
    first = _slug(communities[0])[:NAME_SLUG_LENGTH].rstrip("-") if communities else "all"
    more = [f"and-{len(communities) - 1}-more"] if len(communities) > 1 else []
    return "-".join(["directmail", first, *more, *_filter_words(filters), today.isoformat()]) + ".csv"


def _filter_words(filters: ExportFilters) -> list[str]:
    flags = [
        ("rfs", filters.rfs, "not-rfs"),
        ("business", filters.business, "not-business"),
        ("bduk", filters.bduk, "not-bduk"),
    ]
    words = [yes if value else no for yes, value, no in flags if value is not None]
    if filters.rfs_date_after:
        words.append(f"from-{filters.rfs_date_after.isoformat()}")
    if filters.rfs_date_before:
        words.append(f"before-{filters.rfs_date_before.isoformat()}")
    return words + [segment.lower() for segment in filters.segments or ()]


def _slug(name: str) -> str:
    """`Tŷ Croes` as `ty-croes`: accents dropped, anything but ASCII letters and digits a hyphen."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.replace("'", "")).strip("-") or "community"


def _json_value(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _refuse_unknown(session: Session, asked: tuple[str, ...], known: set[str]) -> None:
    unknown = [name for name in asked if name not in known]
    if not unknown:
        return
    every_name = community_names(session)  # for the suggestions, on this error path only
    described = "; ".join(_with_suggestion(name, every_name) for name in unknown[:QUOTED_UNKNOWN])
    more = f" (and {len(unknown) - QUOTED_UNKNOWN} more)" if len(unknown) > QUOTED_UNKNOWN else ""
    reason = f"unknown: {described}{more}"
    raise MailingListError(
        f"Unknown communities in 'communities': {described}{more}. GET /communities lists them.",
        [("communities", reason)],
    )


def _with_suggestion(name: str, known: list[str]) -> str:
    closest = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"{excerpt(name)} (did you mean {excerpt(closest[0])}?)" if closest else excerpt(name)
