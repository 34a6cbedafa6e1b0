"""Is the chain's event for a (customer, brand, nonce) the very message an outbox row holds?

The one place that compares a row with an event's fields: when the message's shape changes, this is
what changes with it.
"""

from __future__ import annotations

from consent_ledger.chain.events import Granted, Revoked
from consent_ledger.domain import GrantRequest
from consent_ledger.relayer.items import Item, Kind


def same_message(item: Item, event: Granted | Revoked) -> bool:
    """True when `event` (which consumed the item's nonce) carries the item's own message."""
    if isinstance(event, Revoked):
        return item.kind is Kind.REVOKE
    request = item.request
    return (
        item.kind is Kind.GRANT
        and isinstance(request, GrantRequest)
        and (event.terms, event.expires_at) == (request.terms, request.expires_at)
        and event.notice_hash == "0x" + request.notice_hash.hex()
    )
