"""EIP-55 checksummed addresses, fast: eth_utils spends ~70 µs a call on layers of validation; this
hashes once with eth_hash and caches (the same addresses recur on every hot path)."""

from __future__ import annotations

import re
from functools import lru_cache

from eth_hash.auto import keccak

from consent_ledger.errors import InputError

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@lru_cache(maxsize=200_000)
def checksum(address: str) -> str:
    """EIP-55 form of a 0x-prefixed 40-hex-digit address (any case; the caller validated the shape)."""
    body = address[2:].lower()
    digest = keccak(body.encode()).hex()
    return "0x" + "".join(c.upper() if c > "9" and digest[i] >= "8" else c for i, c in enumerate(body))


def checksum_address(address: str) -> str:
    """`address` (0x + 40 hex digits, any case; the checksum is not verified) in EIP-55 checksummed form.
    Input from callers: anything else raises `InputError`."""
    if not isinstance(address, str) or not _HEX_ADDRESS.fullmatch(address):
        shown = repr(address)[:60]
        raise InputError(f"invalid customer address {shown}: expected 0x followed by 40 hex digits")
    return checksum(address)
