"""Request and response types. The response types' JSON schemas are `api-spec.yml`'s components:
`tests/test_data_types.py` holds the two to one definition."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dataclasses_jsonschema import JsonSchemaMixin
from dataclasses_jsonschema.type_defs import JsonSchemaMeta

from app.errors import InvalidRequest


@dataclass(frozen=True)
class ExportFilters:
    """Which premises a mailing list holds; a filter left as None does not filter."""

    communities: tuple[str, ...] | None = None
    rfs: bool | None = None
    rfs_date_before: dt.date | None = None
    rfs_date_after: dt.date | None = None
    business: bool | None = None
    bduk: bool | None = None
    segments: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        before, after = self.rfs_date_before, self.rfs_date_after
        if before and after and after >= before:
            raise InvalidRequest(
                f"rfs_date_after ({after}) must be earlier than rfs_date_before ({before}): no date is in that range"
            )

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> ExportFilters:
        """The filters among query parameters that the spec has already validated and typed one by one."""
        communities, segments = query.get("communities"), query.get("segments")
        return cls(
            communities=community_names(communities) if communities is not None else None,
            rfs=query.get("rfs"),
            rfs_date_before=_date(query.get("rfs_date_before")),
            rfs_date_after=_date(query.get("rfs_date_after")),
            business=query.get("business"),
            bduk=query.get("bduk"),
            segments=tuple(sorted(set(segments.split(",")))) if segments else None,
        )


def _date(parameter: str | None) -> dt.date | None:
    return dt.date.fromisoformat(parameter) if parameter else None


def community_names(parameter: str) -> tuple[str, ...]:
    """Comma-separated names; a name holding a comma is given in double quotes, as in a CSV line."""
    names = next(csv.reader([parameter], skipinitialspace=True), [])
    unique = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not unique:
        raise InvalidRequest(f"communities {parameter!r} names no community: leave it out to include them all")
    return unique


@dataclass
class Community(JsonSchemaMixin):
    """A community as staff pick it: its exact name, whether it is ready for service, and its size."""

    name: str = field(metadata=JsonSchemaMeta(description="The friendly name, as it appears in Salesforce"))
    rfs: bool = field(metadata=JsonSchemaMeta(description="Ready for service"))
    premises: int = field(metadata=JsonSchemaMeta(description="How many premises it holds"))
    rfs_date: dt.date | None = field(
        default=None, metadata=JsonSchemaMeta(description="When it became (or becomes) ready for service")
    )


@dataclass
class CommunityCount(JsonSchemaMixin):
    """How many premises of one community a mailing list holds."""

    name: str
    premises: int


@dataclass
class MailingSummary(JsonSchemaMixin):
    """What a mailing list with these filters would hold, before downloading it."""

    total: int
    communities: list[CommunityCount]


@dataclass
class Caller(JsonSchemaMixin):
    """Who the service takes the caller for, from the token."""

    object_id: str = field(
        metadata=JsonSchemaMeta(description="The Entra object id of the user or the service principal")
    )
    roles: list[str] = field(
        metadata=JsonSchemaMeta(description="App roles assigned to the user or granted to the service")
    )
    scopes: list[str] = field(
        metadata=JsonSchemaMeta(description="Delegated scopes the user consented to for the client")
    )
    app_id: str | None = field(
        default=None, metadata=JsonSchemaMeta(description="The client application the token was issued to")
    )
    name: str | None = None
