"""Small helpers shared by the auth modules: aware datetimes and address checks."""

from __future__ import annotations

from datetime import datetime

from eth_utils.address import is_hex_address, to_checksum_address

from consent_ledger.errors import InputError


def require_aware(value: datetime, name: str = "now") -> datetime:
    """Return `value` if it is a timezone-aware datetime; refuse naive ones (they are ambiguous)."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InputError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


def checksum_address(address: str) -> str:
    """The EIP-55 form of a `0x` + 40 hex digit address, whatever its case; `InputError` otherwise."""
    if not isinstance(address, str) or not address.startswith("0x") or not is_hex_address(address):
        raise InputError(f"{address!r} is not an Ethereum address (0x followed by 40 hex digits)")
    return str(to_checksum_address(address))
