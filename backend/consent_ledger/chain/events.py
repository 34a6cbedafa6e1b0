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
from consent_ledger.domain import HasTerms, Terms, terms_from_wire
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
    TERMS_MISMATCH = 9


def _topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


GRANTED = _topic("Granted(address,address,uint256,bytes32)")
FURTHER_PURPOSES_GRANTED = _topic("FurtherPurposesGranted(address,address,uint64[])")
REVOKED = _topic("Revoked(address,address,uint256)")
GRANT_REJECTED = _topic("GrantRejected(address,address,uint256,uint8)")
REVOKE_REJECTED = _topic("RevokeRejected(address,address,uint256,uint8)")
ANCHORED = _topic("Anchored(address,bytes32,uint64)")
ALL_TOPICS = [GRANTED, FURTHER_PURPOSES_GRANTED, REVOKED, GRANT_REJECTED, REVOKE_REJECTED, ANCHORED]
# A log filter for grants must ask for both topics: a grant of several purposes is two logs.
GRANT_TOPICS = [GRANTED, FURTHER_PURPOSES_GRANTED]

_NONCE_BITS = 48
_MASK_40 = (1 << 40) - 1
_MASK_64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class LogPosition:
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


@dataclass(frozen=True, slots=True)
class Granted(HasTerms):
    """A grant, rebuilt from its `Granted` log (and, for several purposes, the
    `FurtherPurposesGranted` log right after it); `nonce` is the nonce the grant consumed."""

    at: LogPosition
    customer: str
    brand: str
    terms: Terms
    expires_at: int
    notice_hash: str
    nonce: int
    granted_at: int


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


@dataclass(frozen=True, slots=True)
class GrantHeader:
    """The header word a `Granted` event carries (the pair's stored word): the next nonce, expiry,
    grant time, purposes mask and the lowest purpose's categories."""

    next_nonce: int
    expires_at: int
    granted_at: int
    purposes: int
    first_categories: int

    @classmethod
    def unpack(cls, word: int) -> GrantHeader:
        return cls(
            word & ((1 << _NONCE_BITS) - 1),
            word >> 48 & _MASK_40,
            word >> 88 & _MASK_40,
            word >> 128 & _MASK_64,
            word >> 192 & _MASK_64,
        )

    @property
    def purpose_count(self) -> int:
        return self.purposes.bit_count()


@dataclass(frozen=True, slots=True)
class _GrantStart:
    """A `Granted` log of several purposes, waiting for its `FurtherPurposesGranted`."""

    at: LogPosition
    customer: str
    brand: str
    header: GrantHeader
    notice_hash: str


@dataclass(frozen=True, slots=True)
class _FurtherPurposes:
    at: LogPosition
    customer: str
    brand: str
    categories: tuple[int, ...]


def _granted(start: _GrantStart, further: tuple[int, ...]) -> Granted:
    header = start.header
    try:
        terms = terms_from_wire(header.purposes, (header.first_categories, *further))
    except ValueError as error:
        raise ChainError(f"Granted event at {start.at.tx_hash}#{start.at.log_index}: {error}") from error
    return Granted(
        start.at,
        start.customer,
        start.brand,
        terms,
        header.expires_at,
        start.notice_hash,
        header.next_nonce - 1,
        header.granted_at,
    )


def _decode_uint64_array(words: list[str], at: int) -> tuple[int, ...]:
    """A `uint64[]` whose length word is `words[at]`."""
    count = int(words[at], 16)
    if at + 1 + count > len(words):
        raise ChainError(f"FurtherPurposesGranted event: array of {count} runs past the data")
    return tuple(int(words[at + 1 + i], 16) for i in range(count))


def _decode_log(log: Mapping[str, Any]) -> LedgerEvent | _GrantStart | _FurtherPurposes | None:
    """One log -> one event (or one part of a grant of several purposes), or None when it is not
    one of ours (or was removed by a reorg)."""
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
        start = _GrantStart(
            at, _address(topics[1]), _address(topics[2]), GrantHeader.unpack(int(words[0], 16)), "0x" + words[1]
        )
        return _granted(start, ()) if start.header.purpose_count == 1 else start
    if head == FURTHER_PURPOSES_GRANTED:
        return _FurtherPurposes(
            at, _address(topics[1]), _address(topics[2]), _decode_uint64_array(words, int(words[0], 16) // 32)
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
    """Decode every log of ours (from `address`, when given), in order. A grant of several purposes
    is two logs, `Granted` and the `FurtherPurposesGranted` right after it in the same transaction;
    they come back as one `Granted`. Either one without the other is a `ChainError` (a log filter
    that asked for one topic and not the other: use `GRANT_TOPICS`)."""
    wanted = address.lower() if address else None
    events: list[LedgerEvent] = []
    pending: _GrantStart | None = None
    for log in logs:
        if wanted and _hex(log["address"]).lower() != wanted:
            continue
        event = _decode_log(log)
        if event is None:
            continue
        if pending is not None:
            if not (isinstance(event, _FurtherPurposes) and _follows(pending, event)):
                raise ChainError(
                    _unpaired(pending.at, "Granted of several purposes without its FurtherPurposesGranted")
                )
            events.append(_granted(pending, event.categories))
            pending = None
        elif isinstance(event, _FurtherPurposes):
            raise ChainError(_unpaired(event.at, "FurtherPurposesGranted without its Granted"))
        elif isinstance(event, _GrantStart):
            pending = event
        else:
            events.append(event)
    if pending is not None:
        raise ChainError(_unpaired(pending.at, "Granted of several purposes without its FurtherPurposesGranted"))
    return events


def _follows(start: _GrantStart, further: _FurtherPurposes) -> bool:
    return (
        further.at.tx_hash == start.at.tx_hash
        and further.at.log_index == start.at.log_index + 1
        and (further.customer, further.brand) == (start.customer, start.brand)
    )


def _unpaired(at: LogPosition, what: str) -> str:
    return f"{what} (transaction {at.tx_hash}, log {at.log_index})"
