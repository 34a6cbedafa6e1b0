"""What the outbox's rows read as: the submission the API shows, the item a worker sends, a settled
row; and the canonical JSON a signed message is stored as."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consent_ledger.chain import eip712
from consent_ledger.chain.messages import parse_grant_message, parse_revoke_message
from consent_ledger.domain import GrantRequest, RevokeRequest
from consent_ledger.relayer.items import Item, Kind, Status
from consent_ledger.relayer.models import OutboxItem


@dataclass(frozen=True, slots=True)
class Settled:
    """A confirmed or rejected row, with the transaction and block it was settled in."""

    item: Item
    status: Status
    tx_id: int | None
    block_number: int
    block_hash: str


@dataclass(frozen=True, slots=True)
class Submission:
    """What the API and customers see of an outbox row."""

    id: int
    kind: str
    customer: str
    brand: str
    nonce: int
    status: str
    reason: str | None
    tx_hash: str | None
    block_number: int | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "customer": self.customer,
            "brand": self.brand,
            "nonce": str(self.nonce),
            "status": self.status,
            "reason": self.reason,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def submission(row: OutboxItem) -> Submission:
    return Submission(
        row.id,
        row.kind,
        row.customer,
        row.brand,
        int(row.nonce),
        row.status,
        row.reason,
        row.tx_hash,
        row.block_number,
        row.created_at,
        row.updated_at,
    )


def message_json(request: GrantRequest | RevokeRequest) -> str:
    message = eip712.grant_message(request) if isinstance(request, GrantRequest) else eip712.revoke_message(request)
    return json.dumps(message, sort_keys=True, separators=(",", ":"))


def item_of(item_id: int, kind_name: str, message_json: str, signature: str) -> Item:
    kind = Kind(kind_name)
    message = json.loads(message_json)
    request = parse_grant_message(message) if kind is Kind.GRANT else parse_revoke_message(message)
    return Item(item_id, kind, request, bytes.fromhex(signature[2:]))


def to_item(row: OutboxItem) -> Item:
    return item_of(row.id, row.kind, row.message, row.signature)
