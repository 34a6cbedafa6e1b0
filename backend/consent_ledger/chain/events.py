"""Decode the contract's events from raw logs, by hand (web3.py's decoder does ~2k events/s).

Pure functions over the JSON-RPC log shape (hex strings) or web3.py's (HexBytes); tests check
them against web3.py's decoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils.crypto import keccak

from consent_ledger.addresses import checksum
from consent_ledger.domain import PurposeTerms, Terms, categories_union, purposes_mask
from consent_ledger.errors import ChainError


class Rejection(IntEnum):
    """Mirror of `IConsentLedger.Rejection`."""

    NONE = 0
    SIGNATURE_EXPIRED = 1
    INVALID_NONCE = 2
    INVALID_SIGNATURE = 3
    ZERO_BRAND = 4
    NO_CATEGORIES = 5
    NO_PURPOSES = 6
    EXPIRY_IN_PAST = 7
    EXPIRY_TOO_FAR = 8
    INVALID_PURPOSE = 9


def _topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


GRANTED = _topic("Granted(address,address,(uint8,uint64)[],uint40,bytes32,uint256)")
REVOKED = _topic("Revoked(address,address,uint256)")
GRANT_REJECTED = _topic("GrantRejected(address,address,uint256,uint8)")
REVOKE_REJECTED = _topic("RevokeRejected(address,address,uint256,uint8)")
ANCHORED = _topic("Anchored(address,bytes32,uint64)")
ALL_TOPICS = [GRANTED, REVOKED, GRANT_REJECTED, REVOKE_REJECTED, ANCHORED]


@dataclass(frozen=True, slots=True)
class LogPosition:
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


@dataclass(frozen=True, slots=True)
class Granted:
    at: LogPosition
    customer: str
    brand: str
    terms: Terms
    expires_at: int
    notice_hash: str
    nonce: int

    @property
    def purposes(self) -> int:
        return purposes_mask(self.terms)

    @property
    def categories(self) -> int:
        """Every category granted, for any purpose."""
        return categories_union(self.terms)


@dataclass(frozen=True, slots=True)
class Revoked:
    at: LogPosition
    customer: str
    brand: str
    nonce: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A skipped batch item; `kind` is "grant" or "revoke"."""

    at: LogPosition
    kind: str
    customer: str
    brand: str
    nonce: int
    reason: Rejection


@dataclass(frozen=True, slots=True)
class Anchored:
    at: LogPosition
    custodian: str
    root: str
    size: int


LedgerEvent = Granted | Revoked | Rejected | Anchored


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def _int(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 16)


def _address(topic: str) -> str:
    return checksum("0x" + topic[-40:])


def _decode_terms(words: list[str], at: int) -> Terms:
    """A `(uint8,uint64)[]` whose length word is `words[at]`."""
    count = int(words[at], 16)
    if at + 1 + 2 * count > len(words):
        raise ChainError(f"Granted event: terms array of {count} runs past the data")
    return tuple(PurposeTerms(int(words[at + 1 + 2 * i], 16), int(words[at + 2 + 2 * i], 16)) for i in range(count))


def decode_log(log: Mapping[str, Any]) -> LedgerEvent | None:
    """One log -> one event, or None when it is not one of ours (or was removed by a reorg)."""
    if log.get("removed"):
        return None
    topics = [_hex(t) for t in log["topics"]]
    if not topics:
        return None
    data = _hex(log["data"])[2:]
    words = [data[i : i + 64] for i in range(0, len(data), 64)]
    at = LogPosition(
        block_number=_int(log["blockNumber"]),
        block_hash=_hex(log["blockHash"]),
        tx_hash=_hex(log["transactionHash"]),
        log_index=_int(log["logIndex"]),
    )
    head = topics[0]
    if head == GRANTED:
        return Granted(
            at,
            _address(topics[1]),
            _address(topics[2]),
            _decode_terms(words, int(words[0], 16) // 32),
            int(words[1], 16),
            "0x" + words[2],
            int(words[3], 16),
        )
    if head == REVOKED:
        return Revoked(at, _address(topics[1]), _address(topics[2]), int(words[0], 16))
    if head in (GRANT_REJECTED, REVOKE_REJECTED):
        kind = "grant" if head == GRANT_REJECTED else "revoke"
        return Rejected(
            at,
            kind,
            _address(topics[1]),
            _address(topics[2]),
            int(words[0], 16),
            Rejection(int(words[1], 16)),
        )
    if head == ANCHORED:
        return Anchored(at, _address(topics[1]), "0x" + words[0], int(words[1], 16))
    return None


def decode_logs(logs: Iterable[Mapping[str, Any]], address: str | None = None) -> list[LedgerEvent]:
    """Decode every log of ours (from `address`, when given), in order."""
    wanted = address.lower() if address else None
    events = []
    for log in logs:
        if wanted and _hex(log["address"]).lower() != wanted:
            continue
        event = decode_log(log)
        if event is not None:
            events.append(event)
    return events
