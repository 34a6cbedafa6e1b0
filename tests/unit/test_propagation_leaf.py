"""The version-3 access-log leaf (a propagation step): its 108-byte layout pinned byte by byte, the round
trip, and every malformed leaf refused."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from consent_ledger.audit.errors import AuditError
from consent_ledger.audit.leaf import (
    PROPAGATION_SIZE,
    InsightLeaf,
    Leaf,
    PropagationLeaf,
    decode_any,
    decode_propagation,
    fields_digest,
)

CUSTOMER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BRAND = "0x32189f6124216a3AB701d0eD3eb0A9cFa6d0846b"
EVENT_ID = hashlib.sha256(b"chain:31337:0xabc:0:" + BRAND.encode()).digest()
LEAF_ID = "0b8f7a2c-1d3e-4f50-8a61-7b2c3d4e5f60"


def _leaf(**changes: object) -> PropagationLeaf:
    values: dict[str, object] = {
        "leaf_id": LEAF_ID,
        "step": "acknowledged",
        "event_type": "consent.revoked",
        "event_id": EVENT_ID,
        "customer": CUSTOMER,
        "brand": BRAND,
        "occurred_at": 1_760_000_000,
        "at": 1_760_000_042,
        "ack": "stopped_processing",
    }
    values.update(changes)
    return PropagationLeaf(**values)  # type: ignore[arg-type]


def test_the_layout_is_the_one_in_interfaces_11() -> None:
    data = _leaf().encode()
    assert len(data) == PROPAGATION_SIZE == 108
    assert data[0] == 0x03
    assert data[1:17] == uuid.UUID(LEAF_ID).bytes
    assert data[17] == 0x02  # acknowledged
    assert data[18] == 0x03  # consent.revoked
    assert data[19:51] == EVENT_ID
    assert data[51:71] == bytes.fromhex(CUSTOMER[2:])
    assert data[71:91] == bytes.fromhex(BRAND[2:])
    assert data[91:99] == (1_760_000_000).to_bytes(8, "big")
    assert data[99:107] == (1_760_000_042).to_bytes(8, "big")
    assert data[107] == 0x01  # stopped_processing


@pytest.mark.parametrize(
    ("step", "event_type", "ack", "codes"),
    [
        ("delivered", "consent.granted", None, (1, 1, 0)),
        ("delivered", "consent.narrowed", None, (1, 2, 0)),
        ("delivered", "consent.expired", None, (1, 4, 0)),
        ("acknowledged", "data.erased", "deleted", (2, 5, 2)),
        ("acknowledged", "data.released", "received", (2, 6, 3)),
    ],
)
def test_every_code_round_trips(step: str, event_type: str, ack: str | None, codes: tuple[int, int, int]) -> None:
    leaf = _leaf(step=step, event_type=event_type, ack=ack)
    data = leaf.encode()
    assert (data[17], data[18], data[107]) == codes
    assert decode_propagation(data) == leaf
    assert decode_any(data) == leaf
    assert leaf.receipt_id == LEAF_ID


def test_decode_any_still_reads_versions_1_and_2() -> None:
    v1 = Leaf(str(uuid.uuid4()), CUSTOMER, BRAND, 1, 2, 3, "0x" + "ab" * 32, 4, fields_digest(["email"]))
    v2 = InsightLeaf(str(uuid.uuid4()), BRAND, 1, 2, 3, "0x" + "cd" * 32, 4, 500_000)
    assert decode_any(v1.encode()) == v1
    assert decode_any(v2.encode()) == v2


@pytest.mark.parametrize(
    ("offset", "value", "why"),
    [
        (0, 0x04, "version"),
        (17, 0x00, "step"),
        (17, 0x03, "step"),
        (18, 0x00, "event type"),
        (18, 0x07, "event type"),
        (107, 0x04, "acknowledgement"),
        (107, 0x00, "acknowledged step without an acknowledgement"),
    ],
)
def test_malformed_leaves_are_refused(offset: int, value: int, why: str) -> None:
    data = bytearray(_leaf().encode())
    data[offset] = value
    with pytest.raises(AuditError):
        decode_any(bytes(data))


def test_a_delivered_step_with_an_acknowledgement_is_refused() -> None:
    data = bytearray(_leaf(step="delivered", ack=None).encode())
    data[107] = 0x01
    with pytest.raises(AuditError):
        decode_propagation(bytes(data))
    with pytest.raises(AuditError):
        _leaf(step="delivered", ack="received")


@pytest.mark.parametrize("size", [107, 109, 153])
def test_wrong_sizes_are_refused(size: int) -> None:
    data = (_leaf().encode() + bytes(60))[:size]
    with pytest.raises(AuditError):
        decode_propagation(data)


def test_bad_fields_cannot_be_encoded() -> None:
    with pytest.raises(AuditError):
        _leaf(event_id=b"\x01" * 31)
    with pytest.raises(AuditError):
        _leaf(event_type="consent.deleted")
    with pytest.raises(AuditError):
        _leaf(ack="ignored")
