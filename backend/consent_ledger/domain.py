"""Plain values shared by every layer: the messages customers sign and the state the chain holds."""

from __future__ import annotations

from dataclasses import dataclass

UINT64_MAX = 2**64 - 1
UINT40_MAX = 2**40 - 1


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """The EIP-712 `Grant` message. Addresses are checksummed hex strings; times are unix seconds."""

    customer: str
    brand: str
    categories: int
    purposes: int
    expires_at: int
    notice_hash: bytes
    nonce: int
    deadline: int


@dataclass(frozen=True, slots=True)
class RevokeRequest:
    """The EIP-712 `Revoke` message."""

    customer: str
    brand: str
    nonce: int
    deadline: int


@dataclass(frozen=True, slots=True)
class GrantState:
    """What the contract stores for one (customer, brand) pair."""

    categories: int
    purposes: int
    expires_at: int
    granted_at: int
    nonce: int

    def active_at(self, timestamp: int) -> bool:
        return timestamp < self.expires_at

    def allows(self, categories: int, purposes: int, timestamp: int) -> bool:
        """The same rule as the contract's `isAllowed`."""
        return (
            self.active_at(timestamp)
            and self.categories & categories == categories
            and self.purposes & purposes == purposes
        )


@dataclass(frozen=True, slots=True)
class Query:
    """One question for the batch view: does `customer` allow `brand` all these bits?"""

    customer: str
    brand: str
    categories: int
    purposes: int
