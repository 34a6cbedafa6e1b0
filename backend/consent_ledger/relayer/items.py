"""The outbox's own values: what kind of message a row holds, where it stands, the item a worker
sends and the outcome it reads back from the chain."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from consent_ledger.domain import GrantRequest, RevokeRequest


class Kind(StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


class Status(StrEnum):
    ACCEPTED = "accepted"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Item:
    """One signed message waiting in the outbox."""

    id: int
    kind: Kind
    request: GrantRequest | RevokeRequest
    signature: bytes

    @property
    def key(self) -> tuple[str, str, str, int]:
        r = self.request
        return (self.kind.value, r.customer.lower(), r.brand.lower(), r.nonce)


@dataclass(frozen=True, slots=True)
class Outcome:
    item_id: int
    status: Status
    tx_hash: str
    block_number: int
    block_hash: str
    reason: str | None = None
