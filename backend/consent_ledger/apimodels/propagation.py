"""What brands were told of a customer's revocations and erasures, and what they acknowledged: the
customer's notices (with access-log proofs) and the auditor's list of brands still owing an answer."""

from __future__ import annotations

from pydantic import Field

from consent_ledger.apimodels.base import AnchorOut, Reply


class PropagationStep(Reply):
    """One step as the access log holds it (a version-3 leaf), with its inclusion proof once anchored."""

    step: str = Field(description="delivered (the brand's endpoint answered 2xx) or acknowledged")
    event_type: str
    event_id: str = Field(description="evt_ + 64 hex digits (the webhook-id)")
    brand: str
    occurred_at: str
    at: str = Field(description="when the brand was told / when it acknowledged")
    ack: str | None = Field(default=None, description="stopped_processing, deleted or received; none when delivered")
    leaf_index: int
    leaf: str
    proof: list[str] | None = Field(default=None, description="inclusion proof to tree_head.root, once anchored")
    anchored: bool


class NoticeBase(Reply):
    event_type: str = Field(description="consent.revoked or data.erased")
    brand: str
    brand_name: str | None = None
    occurred_at: str
    block_number: int | None = None
    tx_hash: str | None = None
    owed: bool = Field(description="the brand received the customer's data before the change, so it must be told")
    event_id: str | None = None
    settled: bool = Field(description="acknowledged with stopped_processing (revocation) or deleted (erasure)")


class Notice(NoticeBase):
    told: PropagationStep | None = None
    acknowledged: PropagationStep | None = None


class Notices(Reply):
    tree_head: AnchorOut | None
    notices: list[Notice]


class WaitingNotice(NoticeBase):
    customer: str
    state: str = Field(description="not_told or unacknowledged")
    told_at: str | None = None
    waiting_seconds: int = Field(description="since the change (not_told) or since the brand was told")


class BrandWaiting(Reply):
    brand: str
    brand_name: str | None = None
    not_told: int
    unacknowledged: int
    longest_wait_seconds: int
    notices: list[WaitingNotice]


class Unacknowledged(Reply):
    as_of: str = Field(description="the chain's time (its latest block) the waits are measured at")
    brands: list[BrandWaiting]
