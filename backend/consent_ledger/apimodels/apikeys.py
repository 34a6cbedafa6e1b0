"""A brand's API keys."""

from __future__ import annotations

from pydantic import Field

from consent_ledger.apimodels.base import Reply


class ApiKey(Reply):
    """A key as lists show it: never its secret."""

    id: str = Field(description="16 hex characters, part of the key")
    prefix: str = Field(description="how the key starts (clk_<id>_), to tell keys apart")
    name: str
    permissions: list[str]
    created_at: str
    expires_at: str
    revoked_at: str | None = Field(description="null while the key works")
    last_used_at: str | None = Field(description="recorded at most once a minute; null if never used")


class NewApiKey(ApiKey):
    key: str = Field(description="the whole key, clk_<id>_<secret>: shown this once, never again; store it now")


class PermissionInfo(Reply):
    name: str
    description: str


class ApiKeys(Reply):
    keys: list[ApiKey] = Field(description="newest first, revoked keys included")
    permissions: list[PermissionInfo] = Field(description="the permissions a key can be made with")
