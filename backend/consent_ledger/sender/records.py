"""What the sender's rows read as: a recorded transaction, one the chain settled, and the result
of a polling round."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from consent_ledger.chain.tx import Receipt
from consent_ledger.sender.models import SentTransaction

PENDING, MINED, DROPPED = "pending", "mined", "dropped"


@dataclass(frozen=True, slots=True)
class SentTx:
    id: int
    nonce: int
    purpose: str
    tx_hash: str
    hashes: tuple[str, ...]
    state: str
    error: str | None
    block_number: int | None
    block_hash: str | None
    succeeded: bool | None


@dataclass(frozen=True, slots=True)
class Landed:
    """A pending transaction the chain settled: mined (`receipt`), or dropped (`receipt` None: its
    nonce was used by a transaction this sender never recorded, so nothing it carried landed)."""

    tx: SentTx
    receipt: Receipt | None


@dataclass(frozen=True, slots=True)
class Round:
    landed: list[Landed] = field(default_factory=list)
    waiting: list[SentTx] = field(default_factory=list)  # still pending (with the node's last refusal)


def view(row: SentTransaction) -> SentTx:
    return SentTx(
        row.id,
        row.nonce,
        row.purpose,
        row.tx_hash,
        tuple(json.loads(row.hashes)),
        row.state,
        row.error,
        row.block_number,
        row.block_hash,
        row.succeeded,
    )
