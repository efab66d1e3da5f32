from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Community")


@_attrs_define
class Community:
    """A community as staff pick it: its exact name, whether it is ready for service, and its size.

    Attributes:
        name (str): The friendly name, as it appears in Salesforce
        rfs (bool): Ready for service
        premises (int): How many premises it holds
        rfs_date (datetime.date | Unset): When it became (or becomes) ready for service
    """

    name: str
    rfs: bool
    premises: int
    rfs_date: datetime.date | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        rfs = self.rfs

        premises = self.premises

        rfs_date: str | Unset = UNSET
        if not isinstance(self.rfs_date, Unset):
            rfs_date = self.rfs_date.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "rfs": rfs,
                "premises": premises,
            }
        )
        if rfs_date is not UNSET:
            field_dict["rfs_date"] = rfs_date

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        rfs = d.pop("rfs")

        premises = d.pop("premises")

        _rfs_date = d.pop("rfs_date", UNSET)
        rfs_date: datetime.date | Unset
        if isinstance(_rfs_date, Unset):
            rfs_date = UNSET
        else:
            rfs_date = datetime.date.fromisoformat(_rfs_date)

        community = cls(
            name=name,
            rfs=rfs,
            premises=premises,
            rfs_date=rfs_date,
        )

        community.additional_properties = d
        return community

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
