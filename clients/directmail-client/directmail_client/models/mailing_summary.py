from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.community_count import CommunityCount


T = TypeVar("T", bound="MailingSummary")


@_attrs_define
class MailingSummary:
    """What a mailing list with these filters would hold, before downloading it.

    Attributes:
        total (int):
        communities (list[CommunityCount]):
    """

    total: int
    communities: list[CommunityCount]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total = self.total

        communities = []
        for communities_item_data in self.communities:
            communities_item = communities_item_data.to_dict()
            communities.append(communities_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "total": total,
                "communities": communities,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.community_count import CommunityCount  # noqa: PLC0415

        d = dict(src_dict)
        total = d.pop("total")

        communities = []
        _communities = d.pop("communities")
        for communities_item_data in _communities:
            communities_item = CommunityCount.from_dict(communities_item_data)

            communities.append(communities_item)

        mailing_summary = cls(
            total=total,
            communities=communities,
        )

        mailing_summary.additional_properties = d
        return mailing_summary

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
