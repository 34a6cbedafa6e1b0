"""The canonical encodings of access-log leaves, pure: version 1 for a released record, version 2 for
an aggregate insight query, version 3 for a step of a webhook event's propagation to a brand. The
first byte says which.

Version 1: one leaf per released record, 153 bytes, fixed layout, big-endian integers:

    offset size  field
         0    1  version (0x01)
         1   16  receipt id (UUID bytes)
        17   20  customer address
        37   20  brand address
        57    8  categories released (uint64 mask)
        65    8  purposes (uint64 mask)
        73    8  block number the chain decided at
        81   32  that block's hash
       113    8  released at (unix seconds)
       121   32  SHA-256 of the JSON array of the released field names, sorted, no spaces

The leaf names no values: the log proves who received which categories, for which purpose,
decided at which block, without holding personal data.

Version 2: one leaf per insight query (aggregates with differential privacy), 109 bytes:

    offset size  field
         0    1  version (0x02)
         1   16  query id (UUID bytes)
        17   20  brand address
        37    8  categories counted (uint64 mask)
        45    8  purposes (uint64 mask)
        53    8  block number the chain decided at
        61   32  that block's hash
        93    8  queried at (unix seconds)
       101    8  epsilon charged to the brand's privacy budget, in millionths (uint64)

It names no customer and no count: it anchors what the brand asked for and the budget it spent.

Version 3: one leaf per propagation step of a webhook event (a brand was told of a change, or
acknowledged it), 108 bytes:

    offset size field
         0    1  version (0x03)
         1   16  leaf id (UUID bytes)
        17    1  step: 0x01 delivered (the brand's endpoint answered 2xx), 0x02 acknowledged
        18    1  event type: 0x01 consent.granted, 0x02 consent.narrowed, 0x03 consent.revoked,
                 0x04 consent.expired, 0x05 data.erased, 0x06 data.released
        19   32  event id
        51   20  customer address
        71   20  brand address
        91    8  occurred at (unix seconds, the cause's time)
        99    8  at (unix seconds: delivered at / acknowledged at)
       107    1  acknowledgement: 0x00 none (a delivered step), 0x01 stopped_processing, 0x02 deleted,
                 0x03 received

A delivered step carries no acknowledgement and an acknowledged step always one; any other combination,
and any unknown code, is not a leaf.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from consent_ledger.addresses import checksum
from consent_ledger.apimodels.webhook_events import EVENT_TYPES as WEBHOOK_EVENT_TYPES
from consent_ledger.audit.errors import AuditError

VERSION = 1
SIZE = 153
INSIGHT_VERSION = 2
INSIGHT_SIZE = 109
PROPAGATION_VERSION = 3
PROPAGATION_SIZE = 108
MICRO = 1_000_000  # epsilon is stored in millionths


def fields_digest(field_names: list[str]) -> bytes:
    return hashlib.sha256(json.dumps(sorted(field_names), separators=(",", ":")).encode()).digest()


@dataclass(frozen=True, slots=True)
class Leaf:
    receipt_id: str
    customer: str
    brand: str
    categories: int
    purposes: int
    block_number: int
    block_hash: str
    released_at: int
    fields_hash: bytes

    def encode(self) -> bytes:
        return b"".join(
            [
                bytes([VERSION]),
                uuid.UUID(self.receipt_id).bytes,
                bytes.fromhex(self.customer[2:]),
                bytes.fromhex(self.brand[2:]),
                self.categories.to_bytes(8, "big"),
                self.purposes.to_bytes(8, "big"),
                self.block_number.to_bytes(8, "big"),
                bytes.fromhex(self.block_hash[2:]),
                self.released_at.to_bytes(8, "big"),
                self.fields_hash,
            ]
        )

    @property
    def released_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.released_at, UTC)


def _require_layout(data: bytes, version: int, size: int) -> None:
    """`AuditError` unless `data` is `size` bytes starting with the `version` byte."""
    if len(data) != size or data[0] != version:
        raise AuditError(f"not a version-{version} leaf of {size} bytes ({len(data)} bytes, version {data[:1].hex()})")


def decode(data: bytes) -> Leaf:
    _require_layout(data, VERSION, SIZE)
    return Leaf(
        receipt_id=str(uuid.UUID(bytes=data[1:17])),
        customer=checksum("0x" + data[17:37].hex()),
        brand=checksum("0x" + data[37:57].hex()),
        categories=int.from_bytes(data[57:65], "big"),
        purposes=int.from_bytes(data[65:73], "big"),
        block_number=int.from_bytes(data[73:81], "big"),
        block_hash="0x" + data[81:113].hex(),
        released_at=int.from_bytes(data[113:121], "big"),
        fields_hash=data[121:153],
    )


@dataclass(frozen=True, slots=True)
class InsightLeaf:
    query_id: str
    brand: str
    categories: int
    purposes: int
    block_number: int
    block_hash: str
    queried_at: int
    epsilon_micro: int

    @property
    def receipt_id(self) -> str:
        """The log's unique key for this leaf (the column is shared with release receipts)."""
        return self.query_id

    @property
    def epsilon(self) -> float:
        return self.epsilon_micro / MICRO

    def encode(self) -> bytes:
        return b"".join(
            [
                bytes([INSIGHT_VERSION]),
                uuid.UUID(self.query_id).bytes,
                bytes.fromhex(self.brand[2:]),
                self.categories.to_bytes(8, "big"),
                self.purposes.to_bytes(8, "big"),
                self.block_number.to_bytes(8, "big"),
                bytes.fromhex(self.block_hash[2:]),
                self.queried_at.to_bytes(8, "big"),
                self.epsilon_micro.to_bytes(8, "big"),
            ]
        )


def decode_insight(data: bytes) -> InsightLeaf:
    _require_layout(data, INSIGHT_VERSION, INSIGHT_SIZE)
    return InsightLeaf(
        query_id=str(uuid.UUID(bytes=data[1:17])),
        brand=checksum("0x" + data[17:37].hex()),
        categories=int.from_bytes(data[37:45], "big"),
        purposes=int.from_bytes(data[45:53], "big"),
        block_number=int.from_bytes(data[53:61], "big"),
        block_hash="0x" + data[61:93].hex(),
        queried_at=int.from_bytes(data[93:101], "big"),
        epsilon_micro=int.from_bytes(data[101:109], "big"),
    )


# The one-byte codes of a version-3 leaf (the tuple position is the code; 0 is not a valid step or type).
STEPS = ("", "delivered", "acknowledged")
EVENT_TYPES = ("", *WEBHOOK_EVENT_TYPES)  # the webhook types, in their order: code 1 is consent.granted
ACKS = ("", "stopped_processing", "deleted", "received")  # "" (code 0): none, on a delivered step
EVENT_ID_SIZE = 32


def _code(names: tuple[str, ...], name: str, what: str) -> int:
    if not name or name not in names:
        raise AuditError(f"unknown {what} {name!r}: expected one of {', '.join(n for n in names if n)}")
    return names.index(name)


def _name(names: tuple[str, ...], code: int, what: str) -> str:
    if not 0 < code < len(names):
        raise AuditError(f"unknown {what} code {code:#04x} in a version-{PROPAGATION_VERSION} leaf")
    return names[code]


@dataclass(frozen=True, slots=True)
class PropagationLeaf:
    """A brand was told of an event (step "delivered", `ack` None) or acknowledged it ("acknowledged")."""

    leaf_id: str
    step: str
    event_type: str
    event_id: bytes
    customer: str
    brand: str
    occurred_at: int
    at: int
    ack: str | None

    def __post_init__(self) -> None:
        _code(STEPS, self.step, "propagation step")
        _code(EVENT_TYPES, self.event_type, "event type")
        if len(self.event_id) != EVENT_ID_SIZE:
            raise AuditError(f"an event id is {EVENT_ID_SIZE} bytes, got {len(self.event_id)}")
        if (self.step == "delivered") != (self.ack is None):
            raise AuditError(
                f"a {self.step} step {'carries no' if self.ack is None else 'cannot carry an'} acknowledgement"
            )
        if self.ack is not None:
            _code(ACKS, self.ack, "acknowledgement")

    @property
    def receipt_id(self) -> str:
        """The log's unique key for this leaf (the column is shared with release receipts)."""
        return self.leaf_id

    def encode(self) -> bytes:
        return b"".join(
            [
                bytes([PROPAGATION_VERSION]),
                uuid.UUID(self.leaf_id).bytes,
                bytes([STEPS.index(self.step), EVENT_TYPES.index(self.event_type)]),
                self.event_id,
                bytes.fromhex(self.customer[2:]),
                bytes.fromhex(self.brand[2:]),
                self.occurred_at.to_bytes(8, "big"),
                self.at.to_bytes(8, "big"),
                bytes([0 if self.ack is None else ACKS.index(self.ack)]),
            ]
        )


def decode_propagation(data: bytes) -> PropagationLeaf:
    _require_layout(data, PROPAGATION_VERSION, PROPAGATION_SIZE)
    return PropagationLeaf(
        leaf_id=str(uuid.UUID(bytes=data[1:17])),
        step=_name(STEPS, data[17], "propagation step"),
        event_type=_name(EVENT_TYPES, data[18], "event type"),
        event_id=data[19:51],
        customer=checksum("0x" + data[51:71].hex()),
        brand=checksum("0x" + data[71:91].hex()),
        occurred_at=int.from_bytes(data[91:99], "big"),
        at=int.from_bytes(data[99:107], "big"),
        ack=None if data[107] == 0 else _name(ACKS, data[107], "acknowledgement"),
    )


AnyLeaf = Leaf | InsightLeaf | PropagationLeaf


def decode_any(data: bytes) -> AnyLeaf:
    """Any kind of leaf, by its version byte; `AuditError` for anything else."""
    if data[:1] == bytes([INSIGHT_VERSION]):
        return decode_insight(data)
    if data[:1] == bytes([PROPAGATION_VERSION]):
        return decode_propagation(data)
    return decode(data)
