from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Caller")


@_attrs_define
class Caller:
    """Who the service takes the caller for, from the token.

    Attributes:
        object_id (str): The Entra object id of the user or the service principal
        roles (list[str]): App roles assigned to the user or granted to the service
        scopes (list[str]): Delegated scopes the user consented to for the client
        app_id (str | Unset): The client application the token was issued to
        name (str | Unset):
    """

    object_id: str
    roles: list[str]
    scopes: list[str]
    app_id: str | Unset = UNSET
    name: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        object_id = self.object_id

        roles = self.roles

        scopes = self.scopes

        app_id = self.app_id

        name = self.name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "object_id": object_id,
                "roles": roles,
                "scopes": scopes,
            }
        )
        if app_id is not UNSET:
            field_dict["app_id"] = app_id
        if name is not UNSET:
            field_dict["name"] = name

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        object_id = d.pop("object_id")

        roles = cast(list[str], d.pop("roles"))

        scopes = cast(list[str], d.pop("scopes"))

        app_id = d.pop("app_id", UNSET)

        name = d.pop("name", UNSET)

        caller = cls(
            object_id=object_id,
            roles=roles,
            scopes=scopes,
            app_id=app_id,
            name=name,
        )

        caller.additional_properties = d
        return caller

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
