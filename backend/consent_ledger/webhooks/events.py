"""Webhook events as made once and sent on every attempt: their ids and their bodies.

An event id is the SHA-256 of its cause key (utf-8), one event per cause and brand, so whichever replica
or retry makes it again gets the same id (and the database's unique key keeps one):

- a chain event:  "chain:<chain id>:<tx hash, lower-case 0x hex>:<log index>:<brand, checksummed>"
- an expiry:      "expired:<customer>:<brand>:<nonce>:<expires_at, unix seconds>"
- an erasure:     "erased:<customer>:<brand>:<erasure id: unix seconds of the erasure>"
- a release:      "released:<release receipt id>"

The body is `apimodels.webhook_events.WebhookEvent` as compact JSON: the type, when the event was made,
and `data` (event id, customer, brand, when the cause happened, its block and transaction when it is on
chain, and the fields of its type).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from consent_ledger.addresses import checksum_address
from consent_ledger.apimodels.webhook_events import EVENT_TYPES, WebhookEvent
from consent_ledger.errors import InputError
from consent_ledger.propagation.steps import event_id_header

GRANTED = "consent.granted"
NARROWED = "consent.narrowed"
REVOKED = "consent.revoked"
EXPIRED = "consent.expired"
ERASED = "data.erased"
RELEASED = "data.released"


def event_id(cause: str) -> bytes:
    """The 32-byte id of the event a cause key names."""
    return hashlib.sha256(cause.encode("utf-8")).digest()


def chain_cause(chain_id: int, tx_hash: str, log_index: int, brand: str) -> str:
    return f"chain:{chain_id}:{tx_hash.lower()}:{log_index}:{checksum_address(brand)}"


def expiry_cause(customer: str, brand: str, nonce: str, expires_at: int) -> str:
    return f"expired:{checksum_address(customer)}:{checksum_address(brand)}:{nonce}:{expires_at}"


def erasure_cause(customer: str, brand: str, erased_at: datetime) -> str:
    return f"erased:{checksum_address(customer)}:{checksum_address(brand)}:{int(erased_at.timestamp())}"


def release_cause(receipt_id: str) -> str:
    return f"released:{receipt_id}"


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC, whole seconds."""
    if moment.tzinfo is None:
        raise InputError("event times must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def unix_time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to enter the outbox: who it is for, why, and its type-specific fields."""

    type: str
    cause: str
    customer: str
    brand: str
    occurred_at: datetime
    block_number: int | None = None
    tx_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise InputError(f"unknown event type {self.type!r}")

    @property
    def id(self) -> bytes:
        return event_id(self.cause)

    def body(self, made_at: datetime) -> bytes:
        """The exact bytes every attempt sends (checked against the published model)."""
        data: dict[str, Any] = {
            "event_id": event_id_header(self.id),
            "customer": checksum_address(self.customer),
            "brand": checksum_address(self.brand),
            "occurred_at": iso(self.occurred_at),
            "block_number": self.block_number,
            "tx_hash": self.tx_hash,
            **self.extra,
        }
        document = {"type": self.type, "timestamp": iso(made_at), "data": data}
        WebhookEvent.model_validate(document)
        return json.dumps(document, separators=(",", ":"), sort_keys=False).encode("utf-8")
