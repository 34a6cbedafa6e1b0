"""The body of a webhook the server sends to a brand's endpoint (Standard Webhooks shape): what a
receiver gets back from `consent_ledger.client.WebhookVerifier.verify`."""

from __future__ import annotations

from pydantic import Field

from consent_ledger.apimodels.base import Reply

# The order is also each type's one-byte code in a version-3 access-log leaf (position + 1): append only.
EVENT_TYPES = (
    "consent.granted",
    "consent.narrowed",
    "consent.revoked",
    "consent.expired",
    "data.erased",
    "data.released",
)


class WebhookEventData(Reply):
    """What happened, to whom; type-specific fields (terms per purpose, ...) come as extra fields."""

    event_id: str = Field(description="evt_ + 64 hex: the same on every redelivery (the idempotency key)")
    customer: str
    brand: str
    occurred_at: str = Field(description="ISO 8601 UTC time of the cause: its block, or the erasure")
    block_number: int | None = None
    tx_hash: str | None = None


class WebhookEvent(Reply):
    type: str = Field(description="one of " + ", ".join(EVENT_TYPES))
    timestamp: str = Field(description="ISO 8601 UTC time the event was made")
    data: WebhookEventData
