"""Request and response types. The response types' JSON schemas are `api-spec.yml`'s components:
`tests/test_data_types.py` holds the two to one definition (the caller's type, `Caller`, is the kit's)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from dataclasses_jsonschema import JsonSchemaMixin
from dataclasses_jsonschema.type_defs import JsonSchemaMeta

from app.errors import MailingListError
from config import SPECIFICATION
from servicekit.lists import listed
from servicekit.spec import parameter_definition

COMMUNITIES = parameter_definition(SPECIFICATION, "communities")
SEGMENTS = parameter_definition(SPECIFICATION, "segments")


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
            raise MailingListError(
                f"rfs_date_after ({after}) must be earlier than rfs_date_before ({before}): no date is in that range",
                [("rfs_date_after", "must be earlier than rfs_date_before")],
            )

    @classmethod
    def from_parameters(
        cls,
        communities: list[str] | None,
        rfs: bool | None,
        rfs_date_before: str | None,
        rfs_date_after: str | None,
        business: bool | None,
        bduk: bool | None,
        segments: list[str] | None,
        is_community: Callable[[str], bool],
        /,
    ) -> ExportFilters:
        """The filters from their query parameters, in the spec's order, each already validated by the spec
        (the filter oracle in tests/test_directmail_csv.py would catch two swapped), the lists read as the
        spec says. A single `communities` value that `is_community` knows, as a name that is or was a
        community's, is that community: a generated client's one name with a comma is never split, and a
        stale name is refused whole, never read as other communities."""
        return cls(
            communities=(
                None if communities is None else communities_named_in(listed(communities, COMMUNITIES, is_community))
            ),
            rfs=rfs,
            rfs_date_before=_date(rfs_date_before),
            rfs_date_after=_date(rfs_date_after),
            business=business,
            bduk=bduk,
            segments=tuple(sorted(set(listed(segments, SEGMENTS, _no_segment_holds_a_comma)))) if segments else None,
        )


def _no_segment_holds_a_comma(_value: str) -> bool:
    return False


def _date(parameter: str | None) -> dt.date | None:
    return dt.date.fromisoformat(parameter) if parameter else None


def communities_named_in(names: list[str]) -> tuple[str, ...]:
    """The names, each once, without the spaces around them (`Winson, Aberdaron`)."""
    unique = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not unique:
        reason = "names no community: leave it out to include them all"
        raise MailingListError(f"communities {names!r} {reason}", [("communities", reason)])
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
