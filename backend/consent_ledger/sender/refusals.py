"""What a customer reads when the node refuses one of the backend's transactions."""

from __future__ import annotations

from consent_ledger.errors import LedgerError, NodeUnavailableError

NO_FUNDS = "relayer account has insufficient funds"
NODE_DOWN = "the chain node is not answering"


def refusal(error: LedgerError) -> str | None:
    """What a customer should read about a node's refusal; None when it is harmless (already known,
    or the nonce was used meanwhile: `poll` finds out which transaction took it)."""
    message = str(error).lower()
    if "already known" in message or "known transaction" in message or "nonce too low" in message:
        return None
    if "insufficient funds" in message:
        return NO_FUNDS
    if isinstance(error, NodeUnavailableError):
        return NODE_DOWN
    return f"the node refused the transaction: {error}"[:200]
