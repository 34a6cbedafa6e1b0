"""Open endpoints: catalog, brands, health, readiness."""

from __future__ import annotations

from pydantic import Field

from consent_ledger.apimodels.base import Reply


class CatalogEntry(Reply):
    name: str
    bit: int
    mask: str = Field(description="hex: JavaScript numbers lose uint64 bits")
    label: str
    description: str
    dpv: str | None = None
    tcf_purpose_id: int | None = None
    cpra_sensitive: bool | None = None


class Notice(Reply):
    version: str
    paragraphs: list[str]
    text: str
    hash: str = Field(description="the noticeHash a grant names")


class Catalog(Reply):
    version: str
    schema_version: int = Field(alias="schema")
    purposes: list[CatalogEntry]
    categories: list[CatalogEntry]
    notice: Notice


class Limits(Reply):
    """The longest grant the contract records (its MAX_GRANT_DURATION)."""

    max_grant_seconds: int
    max_grant_days: int


class Brand(Reply):
    address: str
    name: str


class Brands(Reply):
    brands: list[Brand]


class ChainHealth(Reply):
    chain_id: int
    contract: str
    ok: bool
    block: int | None = None
    error: str | None = None


class Health(Reply):
    status: str = Field(description="ok | chain-unavailable")
    version: str
    chain: ChainHealth


class Readiness(Reply):
    """Each check as an object with `ok`, and the outbox, indexer and access-log figures."""

    ready: bool
    database: dict[str, object]
    chain: dict[str, object]
