"""Customer addresses: accept any letter case, hand back the EIP-55 checksummed form we store and bind to."""

from __future__ import annotations

import re

from consent_ledger.addresses import checksum
from consent_ledger.errors import InputError

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def checksum_address(address: str) -> str:
    """`address` (0x + 40 hex digits, any case; the checksum is not verified) in EIP-55 checksummed form."""
    if not isinstance(address, str) or not _HEX_ADDRESS.fullmatch(address):
        shown = repr(address)[:60]
        raise InputError(f"invalid customer address {shown}: expected 0x followed by 40 hex digits")
    return checksum(address)
