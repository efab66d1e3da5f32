"""The one place Directmail's settings are read: the environment first, then `.env`.

The settings every service with a database has come from `servicekit.DatabaseSettings`, those of its
downloads (EXPORT_CONCURRENCY and the rest) from `servicekit.settings.DownloadSettings`; Directmail adds
its own here.
Every setting is documented in `.env.example`; `tests/test_config.py` keeps the two in step.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from servicekit import DatabaseSettings
from servicekit.settings import DownloadSettings

PROJECT_ROOT = Path(__file__).resolve().parent
SPECIFICATION = PROJECT_ROOT / "api-spec.yml"
# A Salesforce object's or field's API name: what may go into the SOQL the sync builds.
SALESFORCE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class Settings(DownloadSettings, DatabaseSettings):
    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env")

    service_name: ClassVar[str] = "directmail"
    service_root: ClassVar[Path] = PROJECT_ROOT

    # The Salesforce org the communities come from (`run.py sync-salesforce`): its My Domain URL and an
    # External Client App with the client credentials flow.
    salesforce_url: str = ""
    salesforce_client_id: str = ""
    salesforce_client_secret: SecretStr | None = None
    salesforce_api_version: str = Field("62.0", pattern=r"^[0-9]+\.[0-9]$")
    salesforce_timeout_seconds: float = Field(30, gt=0, le=300)
    # Where the communities are in that org: real orgs name them differently.
    salesforce_object: str = "Community__c"
    salesforce_id_field: str = "Id"
    salesforce_name_field: str = "Name"
    salesforce_rfs_field: str = "RFS__c"
    salesforce_rfs_date_field: str = "RFS_Date__c"
    # A sync that would take more of the live communities than this out of the lists at once (an empty answer,
    # say) changes nothing unless run with --allow-shrink. Below 100, so that an empty answer never passes.
    salesforce_sync_max_shrink_percent: int = Field(20, ge=0, le=99)
    # How many summaries /directmail-summary keeps for the data they were counted on (app/summary_cache.py);
    # 0 keeps none, and each summary is counted afresh.
    summary_cache_entries: int = Field(512, ge=0, le=100_000)

    @field_validator("salesforce_url")
    @classmethod
    def _my_domain(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in {"https", "http"} or not parts.hostname or parts.path.strip("/")):
            raise ValueError(f"{value!r} is not an org's URL (https://<my-domain>.my.salesforce.com)")
        return value.rstrip("/")

    @field_validator(
        "salesforce_object",
        "salesforce_id_field",
        "salesforce_name_field",
        "salesforce_rfs_field",
        "salesforce_rfs_date_field",
    )
    @classmethod
    def _api_name(cls, value: str) -> str:
        if not SALESFORCE_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a Salesforce API name (letters, digits and _)")
        return value
