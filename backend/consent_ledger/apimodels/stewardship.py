"""The public stewardship figures of a brand (no sign-in): computed from the chain and the anchored log only."""

from __future__ import annotations

from pydantic import Field

from consent_ledger.apimodels.base import Reply


class ChainOf(Reply):
    chain_id: int
    contract: str
    custodian: str = Field(description="the address that anchors this installation's access log")


class AsOf(Reply):
    block: int = Field(description="every figure counts the chain up to this block")
    time: str = Field(description="that block's timestamp, ISO 8601 UTC")


class GrantFigures(Reply):
    given: int = Field(description="grants given, renewed or widened (no (purpose, category) pair dropped)")
    narrowed: int = Field(description="grants that replaced one in force and dropped some (purpose, category) pair")
    revoked: int
    active: int = Field(description="grants in force at the as-of block's time")


class NamedCount(Reply):
    name: str
    releases: int


class ReleaseFigures(Reply):
    total: int = Field(description="records released (leaves of the anchored log); never who")
    by_purpose: list[NamedCount]
    by_category: list[NamedCount]


class InsightFigures(Reply):
    queries: int
    epsilon_spent: float = Field(description="privacy budget charged, summed over the anchored insight leaves")


class PropagationFigures(Reply):
    revocations: int = Field(description="revocations on the chain")
    delivered: int = Field(description="of those, delivered to the brand's webhook (version-3 leaves)")
    acknowledged: int = Field(description="of those, acknowledged by the brand (version-3 leaves)")
    share_acknowledged: float | None = Field(description="acknowledged / revocations; null without revocations")
    median_seconds: float | None = Field(description="median time from the revocation's block to the acknowledgement")
    worst_seconds: float | None = Field(description="the longest such time")


class LastAnchor(Reply):
    size: int
    root: str
    block_number: int
    tx_hash: str
    time: str


class LogFigures(Reply):
    verifies: bool = Field(description="every leaf decodes and every on-chain anchor's root is the log's at its size")
    problems: list[str]
    anchored_leaves: int = Field(description="leaves an on-chain anchor covers: the only ones counted")
    anchors: int
    last_anchor: LastAnchor | None


class NoticeFigures(Reply):
    hash: str = Field(description="the noticeHash customers signed")
    version: str | None = Field(description="the catalog's notice version with that hash; null when unknown")
    grants: int = Field(description="grants (given or narrowed) that named it")
    active: int = Field(description="grants in force that name it")


class Day(Reply):
    day: str = Field(description="UTC calendar day, YYYY-MM-DD")
    given: int
    narrowed: int
    revoked: int
    releases: int
    insight_queries: int
    epsilon: float


class Stewardship(Reply):
    """Every figure of a brand's public page; `consent-ledger stewardship report` recomputes the same."""

    format: str
    version: int
    brand: str
    chain: ChainOf
    as_of: AsOf
    grants: GrantFigures
    releases: ReleaseFigures
    insights: InsightFigures
    propagation: PropagationFigures
    log: LogFigures
    notices: list[NoticeFigures]
    daily: list[Day]


class Comparison(Reply):
    """Several brands' figures side by side, all counted up to one block of one chain."""

    format: str
    version: int
    chain: ChainOf
    as_of: AsOf = Field(description="the one block every brand's figures count up to")
    brands: list[Stewardship] = Field(description="each brand's figures, in the order asked")
