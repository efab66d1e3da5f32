from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.database_state import DatabaseState, check_database_state
from ..models.readiness_status import ReadinessStatus, check_readiness_status
from ..types import UNSET, Unset

T = TypeVar("T", bound="Readiness")


@_attrs_define
class Readiness:
    """
    Attributes:
        status (ReadinessStatus):
        database (DatabaseState): Whether the readiness check could read the database (the primary, or the read replica,
            which is
            shown only with `DATABASE_READ_URL`): `unavailable` when it refused, dropped or did not answer
            within `DATABASE_TIMEOUT_SECONDS`; the requests that need it meanwhile get a 503.
        read_replica (DatabaseState | Unset): Whether the readiness check could read the database (the primary, or the
            read replica, which is
            shown only with `DATABASE_READ_URL`): `unavailable` when it refused, dropped or did not answer
            within `DATABASE_TIMEOUT_SECONDS`; the requests that need it meanwhile get a 503.
        read_replica_lag_seconds (float | Unset): How far the replica's data is behind the primary's; with
            `DATABASE_READ_URL` only.
        salesforce_synced_at (datetime.datetime | None | Unset): When the last successful sync from Salesforce finished;
            null before the first, absent while
            the database is unavailable.
    """

    status: ReadinessStatus
    database: DatabaseState
    read_replica: DatabaseState | Unset = UNSET
    read_replica_lag_seconds: float | Unset = UNSET
    salesforce_synced_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        status: str = self.status

        database: str = self.database

        read_replica: str | Unset = UNSET
        if not isinstance(self.read_replica, Unset):
            read_replica = self.read_replica

        read_replica_lag_seconds = self.read_replica_lag_seconds

        salesforce_synced_at: None | str | Unset
        if isinstance(self.salesforce_synced_at, Unset):
            salesforce_synced_at = UNSET
        elif isinstance(self.salesforce_synced_at, datetime.datetime):
            salesforce_synced_at = self.salesforce_synced_at.isoformat()
        else:
            salesforce_synced_at = self.salesforce_synced_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
                "database": database,
            }
        )
        if read_replica is not UNSET:
            field_dict["read_replica"] = read_replica
        if read_replica_lag_seconds is not UNSET:
            field_dict["read_replica_lag_seconds"] = read_replica_lag_seconds
        if salesforce_synced_at is not UNSET:
            field_dict["salesforce_synced_at"] = salesforce_synced_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = check_readiness_status(d.pop("status"))

        database = check_database_state(d.pop("database"))

        _read_replica = d.pop("read_replica", UNSET)
        read_replica: DatabaseState | Unset
        if isinstance(_read_replica, Unset):
            read_replica = UNSET
        else:
            read_replica = check_database_state(_read_replica)

        read_replica_lag_seconds = d.pop("read_replica_lag_seconds", UNSET)

        def _parse_salesforce_synced_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                salesforce_synced_at_type_0 = datetime.datetime.fromisoformat(data)

                return salesforce_synced_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        salesforce_synced_at = _parse_salesforce_synced_at(d.pop("salesforce_synced_at", UNSET))

        readiness = cls(
            status=status,
            database=database,
            read_replica=read_replica,
            read_replica_lag_seconds=read_replica_lag_seconds,
            salesforce_synced_at=salesforce_synced_at,
        )

        readiness.additional_properties = d
        return readiness

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
