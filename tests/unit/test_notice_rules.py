"""Which brand is owed which notice, and what counts as told and acknowledged (audit.notices, pure)."""

from __future__ import annotations

import hashlib

from consent_ledger.audit.leaf import PropagationLeaf
from consent_ledger.audit.notices import ERASED, REVOKED, Change, Receipt, Step, notices, overdue, pending

C = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
A = "0x32189f6124216a3AB701d0eD3eb0A9cFa6d0846b"  # received C's data at block 10
B = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"  # received C's data at block 30
N = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"  # never received anything
T = 1_760_000_000


def _step(index: int, step: str, event_type: str, brand: str, occurred: int, at: int, ack: str | None = None) -> Step:
    event_id = hashlib.sha256(f"{event_type}:{brand}:{occurred}".encode()).digest()
    leaf_id = f"00000000-0000-0000-0000-{index:012d}"
    return Step(index, PropagationLeaf(leaf_id, step, event_type, event_id, C, brand, occurred, at, ack))


RECEIPTS = [Receipt(C, A, 10, T - 100), Receipt(C, B, 30, T + 100)]


def test_a_revocation_is_owed_to_a_brand_that_received_the_data_before_it() -> None:
    changes = [
        Change(REVOKED, C, T, A, 20, "0xa"),  # A received at block 10: owed
        Change(REVOKED, C, T, B, 20, "0xb"),  # B only received at block 30: not owed
        Change(REVOKED, C, T, N, 20, "0xc"),  # N never received: not owed
    ]
    found = notices(changes, RECEIPTS, [])
    assert [(n.brand, n.owed) for n in found] == sorted([(A, True), (B, False), (N, False)], key=lambda p: p[0].lower())
    assert [p.notice.brand for p in pending(found, T + 10)] == [A]


def test_an_erasure_is_owed_to_every_brand_that_received_the_data_before_it() -> None:
    found = notices([Change(ERASED, C, T + 200)], RECEIPTS, [])
    assert sorted(n.brand for n in found) == sorted([A, B])
    assert all(n.owed for n in found)
    assert notices([Change(ERASED, C, T)], RECEIPTS, [])[0].brand == A  # B's data came after


def test_steps_match_their_change_and_only_the_settling_ack_settles() -> None:
    revoked = Change(REVOKED, C, T, A, 20, "0xa")
    told = _step(5, "delivered", REVOKED, A, T, T + 2)
    received = _step(6, "acknowledged", REVOKED, A, T, T + 3, "received")
    other_time = _step(7, "delivered", REVOKED, A, T + 60, T + 61)  # another revocation's delivery
    (notice, stray) = notices([revoked], RECEIPTS, [received, told, other_time])
    assert notice.told == told
    assert notice.told_at == T + 2
    assert notice.settled is None
    assert notice.acknowledged == received
    assert (stray.owed, stray.told) == (False, other_time)
    assert [(p.kind, p.waiting) for p in pending([notice], T + 10)] == [("unacknowledged", 8)]
    stopped = _step(8, "acknowledged", REVOKED, A, T, T + 9, "stopped_processing")
    (notice, _) = notices([revoked], RECEIPTS, [told, received, stopped, other_time])
    assert notice.settled == stopped
    assert notice.acknowledged == stopped
    assert pending([notice], T + 10) == []


def test_an_erasure_is_settled_by_deleted_only() -> None:
    erased = Change(ERASED, C, T)
    steps = [
        _step(1, "delivered", ERASED, A, T, T + 1),
        _step(2, "acknowledged", ERASED, A, T, T + 2, "stopped_processing"),
    ]
    (notice,) = notices([erased], RECEIPTS[:1], steps)
    assert notice.settled is None
    (notice,) = notices([erased], RECEIPTS[:1], [*steps, _step(3, "acknowledged", ERASED, A, T, T + 3, "deleted")])
    assert notice.settled is not None
    assert notice.settled.index == 3


def test_an_acknowledgement_without_a_recorded_delivery_shows_the_brand_was_told() -> None:
    (notice,) = notices(
        [Change(REVOKED, C, T, A, 20)],
        RECEIPTS,
        [_step(4, "acknowledged", REVOKED, A, T, T + 30, "stopped_processing")],
    )
    assert notice.told is None
    assert notice.told_at == T + 30
    assert pending([notice], T + 100) == []


def test_overdue_waits_for_the_window() -> None:
    found = notices(
        [Change(REVOKED, C, T, A, 20), Change(ERASED, C, T + 500)],
        RECEIPTS,
        [_step(1, "delivered", ERASED, B, T + 500, T + 600)],
    )
    assert {(p.kind, p.notice.event_type, p.notice.brand) for p in pending(found, T + 1000)} == {
        ("not_told", REVOKED, A),
        ("not_told", ERASED, A),
        ("unacknowledged", ERASED, B),
    }
    late = overdue(found, T + 1000, within=450)
    assert {(p.kind, p.notice.brand, p.waiting) for p in late} == {
        ("not_told", A, 1000),
        ("not_told", A, 500),
    }  # B was told 400 s ago: within the window
    assert overdue(found, T + 1000, within=1000) == []


def test_grants_and_releases_are_never_notices() -> None:
    steps = [_step(1, "delivered", "consent.granted", A, T, T), _step(2, "delivered", "data.released", A, T, T)]
    assert notices([], RECEIPTS, steps) == []
