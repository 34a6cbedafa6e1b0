"""Parse the `message` part of signed typed data back into requests, strictly.

Used where signed messages come in from outside (the API) and where they are read back from the
outbox. Every field is checked for presence, type and range; anything else is an `InputError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from consent_ledger.domain import UINT40_MAX, UINT64_MAX, GrantRequest, RevokeRequest, Terms, terms_from_wire
from consent_ledger.errors import InputError

UINT256_MAX = 2**256 - 1
_GRANT_FIELDS = {
    "customer",
    "brand",
    "purposes",
    "categoriesPerPurpose",
    "expiresAt",
    "noticeHash",
    "nonce",
    "deadline",
}
MAX_TERMS = 64  # one per purpose at most
_REVOKE_FIELDS = {"customer", "brand", "nonce", "deadline"}


def _uint(message: Mapping[str, Any], name: str, limit: int) -> int:
    value = message[name]
    if isinstance(value, bool):
        raise InputError(f"{name} must be an unsigned integer")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError as exc:
            raise InputError(f"{name} must be an unsigned integer, got {text[:40]!r}") from exc
    if not isinstance(value, int) or not 0 <= value <= limit:
        raise InputError(f"{name} must be an integer from 0 to {limit}")
    return value


def _address(message: Mapping[str, Any], name: str) -> str:
    value = message[name]
    if not isinstance(value, str) or not is_address(value):
        raise InputError(f"{name} must be a 20-byte hex address")
    return str(to_checksum_address(value))


def _bytes32(message: Mapping[str, Any], name: str) -> bytes:
    value = message[name]
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise InputError(f"{name} must be 32 bytes as 0x-prefixed hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise InputError(f"{name} is not hex") from exc


def _fields(message: object, expected: set[str]) -> Mapping[str, Any]:
    if not isinstance(message, Mapping):
        raise InputError("message must be a JSON object")
    missing = expected - set(message)
    extra = set(message) - expected
    if missing or extra:
        detail = []
        if missing:
            detail.append(f"missing {', '.join(sorted(missing))}")
        if extra:
            detail.append(f"unexpected {', '.join(sorted(str(e) for e in extra))}")
        raise InputError("message fields: " + "; ".join(detail))
    return message


def _terms(message: Mapping[str, Any]) -> Terms:
    """`purposes` (a uint64 mask) and `categoriesPerPurpose` (one uint64 per bit of the mask, in
    ascending order of purpose) as terms; the contract's rule that no mask is empty is checked by
    `check_terms`."""
    purposes = _uint(message, "purposes", UINT64_MAX)
    value = message["categoriesPerPurpose"]
    if not isinstance(value, list):
        raise InputError("categoriesPerPurpose must be a list of categories masks, one per purpose")
    if len(value) > MAX_TERMS:
        raise InputError(f"categoriesPerPurpose may hold at most {MAX_TERMS} masks")
    categories = [
        _uint({f"categoriesPerPurpose[{i}]": item}, f"categoriesPerPurpose[{i}]", UINT64_MAX)
        for i, item in enumerate(value)
    ]
    count = purposes.bit_count()
    if len(categories) != count:
        raise InputError(
            "categoriesPerPurpose must hold one mask per purpose: "
            f"purposes names {count}, the list has {len(categories)}"
        )
    return terms_from_wire(purposes, categories)


def parse_grant_message(message: object) -> GrantRequest:
    m = _fields(message, _GRANT_FIELDS)
    return GrantRequest(
        customer=_address(m, "customer"),
        brand=_address(m, "brand"),
        terms=_terms(m),
        expires_at=_uint(m, "expiresAt", UINT40_MAX),
        notice_hash=_bytes32(m, "noticeHash"),
        nonce=_uint(m, "nonce", UINT256_MAX),
        deadline=_uint(m, "deadline", UINT40_MAX),
    )


def parse_revoke_message(message: object) -> RevokeRequest:
    m = _fields(message, _REVOKE_FIELDS)
    return RevokeRequest(
        customer=_address(m, "customer"),
        brand=_address(m, "brand"),
        nonce=_uint(m, "nonce", UINT256_MAX),
        deadline=_uint(m, "deadline", UINT40_MAX),
    )


def parse_signature(text: object) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise InputError("signature must be 0x-prefixed hex")
    try:
        raw = bytes.fromhex(text[2:])
    except ValueError as exc:
        raise InputError("signature is not hex") from exc
    if not 65 <= len(raw) <= 2048:
        raise InputError("signature must be 65 bytes (or an EIP-1271 wallet's signature up to 2 KiB)")
    return raw
