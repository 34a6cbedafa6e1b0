"""EIP-55 checksummed addresses, fast: eth_utils spends ~70 µs a call on layers of validation; this
hashes once with eth_hash and caches (the same addresses recur on every hot path)."""

from __future__ import annotations

from functools import lru_cache

from eth_hash.auto import keccak


@lru_cache(maxsize=200_000)
def checksum(address: str) -> str:
    """EIP-55 form of a 0x-prefixed 40-hex-digit address (any case; the caller validated the shape)."""
    body = address[2:].lower()
    digest = keccak(body.encode()).hex()
    return "0x" + "".join(c.upper() if c > "9" and digest[i] >= "8" else c for i, c in enumerate(body))
