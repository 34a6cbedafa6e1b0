"""The relayer's chain side: submit signed messages in batches and read each item's fate from the
receipt's events (every batch item yields exactly one Granted/Revoked or *Rejected event).

Storage (the durable outbox) lives elsewhere; this module only turns items into transactions and
receipts into outcomes, so it can be tested against a real node on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent_ledger.chain.events import Granted, LedgerEvent, Rejected, Revoked
from consent_ledger.chain.ledger import Ledger
from consent_ledger.chain.tx import TxSender
from consent_ledger.domain import GrantRequest, RevokeRequest
from consent_ledger.errors import ChainError
from consent_ledger.relayer.items import Item, Kind, Outcome, Status


def _event_key(event: LedgerEvent) -> tuple[str, str, str, int] | None:
    if isinstance(event, Granted):
        return ("grant", event.customer.lower(), event.brand.lower(), event.nonce)
    if isinstance(event, Revoked):
        return ("revoke", event.customer.lower(), event.brand.lower(), event.nonce)
    if isinstance(event, Rejected):
        return (event.kind, event.customer.lower(), event.brand.lower(), event.nonce)
    return None


def outcomes_from_events(items: Sequence[Item], events: Sequence[LedgerEvent], tx_hash: str) -> list[Outcome]:
    """Match each item to its event by (kind, customer, brand, nonce), in order.

    An item without an event (which the contract never does) is an error: the caller must not
    guess an outcome.
    """
    pending: dict[tuple[str, str, str, int], list[LedgerEvent]] = {}
    for event in events:
        key = _event_key(event)
        if key is not None:
            pending.setdefault(key, []).append(event)
    outcomes = []
    for item in items:
        matches = pending.get(item.key)
        if not matches:
            raise ChainError(f"transaction {tx_hash} has no event for outbox item {item.id} {item.key}")
        event = matches.pop(0)
        at = event.at
        if isinstance(event, Rejected):
            outcomes.append(
                Outcome(item.id, Status.REJECTED, at.tx_hash, at.block_number, at.block_hash, event.reason.name.lower())
            )
        else:
            outcomes.append(Outcome(item.id, Status.CONFIRMED, at.tx_hash, at.block_number, at.block_hash))
    return outcomes


# Gas bounds instead of eth_estimateGas (which re-executes the batch many times to search): a batch
# never reverts for a bad item, so an upper bound is all a limit needs; unused gas is not charged.
BATCH_BASE_GAS = 100_000
ECDSA_ITEM_GAS = 60_000  # measured ~36-56k per item, calldata included
WALLET_ITEM_GAS = 400_000  # EIP-1271 items: the contract caps the wallet at 100k, plus copying its answer


def batch_gas(items: Sequence[Item]) -> int:
    return BATCH_BASE_GAS + sum(ECDSA_ITEM_GAS if len(i.signature) == 65 else WALLET_ITEM_GAS for i in items)


class Submitter:
    """Sends batches from the relayer's key (one writer per key)."""

    def __init__(self, ledger: Ledger, sender: TxSender) -> None:
        self.ledger = ledger
        self.sender = sender

    def submit(self, items: Sequence[Item]) -> list[Outcome]:
        """One transaction per kind: grants through the batch-grant path, revocations through the
        batch-revoke path. Raises on any chain failure; the outbox then retries with backoff."""
        outcomes: list[Outcome] = []
        grants = [i for i in items if i.kind is Kind.GRANT]
        revokes = [i for i in items if i.kind is Kind.REVOKE]
        if revokes:  # revocations first: withdrawing consent never waits behind grants
            pairs_r = [(i.request, i.signature) for i in revokes if isinstance(i.request, RevokeRequest)]
            result = self.ledger.revoke_batch(self.sender, pairs_r, gas=batch_gas(revokes))
            outcomes += outcomes_from_events(revokes, result.events, result.receipt.tx_hash)
        if grants:
            pairs_g = [(i.request, i.signature) for i in grants if isinstance(i.request, GrantRequest)]
            result = self.ledger.grant_batch(self.sender, pairs_g, gas=batch_gas(grants))
            outcomes += outcomes_from_events(grants, result.events, result.receipt.tx_hash)
        return outcomes
