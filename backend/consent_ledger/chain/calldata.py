"""Hand-built ABI calldata for the hot paths, where eth_abi costs ~27 µs per item.

Only fixed shapes we own are encoded here; tests check every function against eth_abi.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils.crypto import keccak

from consent_ledger.domain import Query
from consent_ledger.errors import ChainError


def selector(signature: str) -> str:
    return keccak(text=signature)[:4].hex()


ARE_ALLOWED = selector("areAllowed((address,address,uint64,uint64)[])")
IS_ALLOWED = selector("isAllowed(address,address,uint64,uint64)")

_ZERO24 = "0" * 24


def _address_word(address: str) -> str:
    body = address[2:] if address.startswith(("0x", "0X")) else address
    if len(body) != 40:
        raise ChainError(f"not a 20-byte address: {address!r}")
    return _ZERO24 + body.lower()


def _uint_word(value: int) -> str:
    return f"{value:064x}"


def encode_are_allowed(queries: Sequence[Query]) -> str:
    """Calldata for `areAllowed(Query[])`: head offset, length, then 4 words per query."""
    parts = ["0x", ARE_ALLOWED, _uint_word(32), _uint_word(len(queries))]
    for q in queries:
        parts.append(_address_word(q.customer))
        parts.append(_address_word(q.brand))
        parts.append(_uint_word(q.categories))
        parts.append(_uint_word(q.purposes))
    return "".join(parts)


def encode_are_allowed_for_brand(brand: str, rows: Sequence[tuple[str, int, int]]) -> str:
    """The same calldata when every question names one brand (the API's case): the brand word, and the
    words after it of each distinct (categories, purposes), are built once. `rows` holds (customer,
    categories, purposes)."""
    brand_word = _address_word(brand)
    tails: dict[tuple[int, int], str] = {}
    parts = ["0x", ARE_ALLOWED, _uint_word(32), _uint_word(len(rows))]
    for customer, categories, purposes in rows:
        tail = tails.get((categories, purposes))
        if tail is None:
            tail = tails[categories, purposes] = brand_word + _uint_word(categories) + _uint_word(purposes)
        parts.append(_address_word(customer))
        parts.append(tail)
    return "".join(parts)


def decode_bool_array(result: str, expected: int) -> list[bool]:
    """Decode a `bool[]` return value, checking its shape; raises `ChainError` on anything odd."""
    body = result[2:] if result.startswith("0x") else result
    if len(body) < 128 or int(body[0:64], 16) != 32:
        raise ChainError(f"unexpected areAllowed answer ({len(body) // 2} bytes)")
    count = int(body[64:128], 16)
    if count != expected or len(body) != 128 + 64 * count:
        raise ChainError(f"areAllowed answered {count} items for {expected} questions")
    try:
        words = bytes.fromhex(body[128:])
    except ValueError as error:
        raise ChainError("areAllowed answered something that is not hex") from error
    flags = words[31::32]  # each word's last byte; every other byte must be zero and each flag 0 or 1
    if flags.count(0) + flags.count(1) != count or words.count(0) != len(words) - count + flags.count(0):
        for i in range(count):
            word = words[32 * i : 32 * i + 32]
            if word[:31].count(0) != 31 or word[31] > 1:
                raise ChainError(f"areAllowed answer {i} is not a bool: 0x{word.hex()}")
        raise ChainError("areAllowed answered words that are not bools")
    return [flag == 1 for flag in flags]
