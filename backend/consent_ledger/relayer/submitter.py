"""The relayer's chain side: signed messages into batch calls, and each item's fate from the
receipt's events (every batch item yields exactly one Granted/Revoked or *Rejected event).

Storage (the durable outbox) and sending (the durable sender) live elsewhere; this module only turns
items into calls and receipts into outcomes, so it can be tested against a real node on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent_ledger.chain.events import Granted, LedgerEvent, Rejected, Revoked
from consent_ledger.chain.ledger import Ledger
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
    """Turns a group of items of one kind into the batch call that carries them."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def batch_call(self, kind: Kind, items: Sequence[Item]) -> tuple[str, int]:
        """(calldata, gas limit) of one batch transaction for `items`, all of `kind`."""
        if kind is Kind.REVOKE:
            revokes = [(i.request, i.signature) for i in items if isinstance(i.request, RevokeRequest)]
            return self.ledger.revoke_batch_call(revokes), batch_gas(items)
        grants = [(i.request, i.signature) for i in items if isinstance(i.request, GrantRequest)]
        return self.ledger.grant_batch_call(grants), batch_gas(items)
