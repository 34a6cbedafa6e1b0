"""The delivery plane's pure rules: event ids from cause keys (pinned), bodies of the published shape,
what counts as narrowing, the full-jitter backoff's bounds, and the acknowledgement read from a 2xx body."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from consent_ledger.apimodels.webhook_events import WebhookEvent
from consent_ledger.errors import InputError
from consent_ledger.webhooks import events as ev
from consent_ledger.webhooks.delivery import parse_ack
from consent_ledger.webhooks.emitter import narrows
from consent_ledger.webhooks.outbox import RetryPolicy

CUSTOMER = "0x1111111111111111111111111111111111111111"
BRAND = "0x2222222222222222222222222222222222222222"
AT = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


def test_event_ids_are_the_sha256_of_their_cause_keys() -> None:
    tx = "0x" + "AB" * 32
    cause = ev.chain_cause(31337, tx, 4, BRAND.lower())
    assert cause == f"chain:31337:0x{'ab' * 32}:4:{BRAND}"
    assert ev.event_id(cause) == hashlib.sha256(cause.encode()).digest()
    assert ev.expiry_cause(CUSTOMER, BRAND, "7", 1_800_000_000) == f"expired:{CUSTOMER}:{BRAND}:7:1800000000"
    assert ev.erasure_cause(CUSTOMER, BRAND, AT) == f"erased:{CUSTOMER}:{BRAND}:{int(AT.timestamp())}"
    assert ev.release_cause("r-1") == "released:r-1"
    assert len({ev.event_id(ev.release_cause(str(n))) for n in range(100)}) == 100


def test_a_body_is_the_published_event_with_its_id() -> None:
    made = ev.NewEvent(ev.REVOKED, "chain:1:0xab:0:" + BRAND, CUSTOMER, BRAND, AT, 12, "0xab", {"nonce": "3"})
    body = json.loads(made.body(AT))
    assert body["data"]["event_id"] == "evt_" + made.id.hex()
    assert (body["type"], body["timestamp"], body["data"]["occurred_at"]) == (
        "consent.revoked",
        "2026-12-03T12:00:00+00:00",
        "2026-12-03T12:00:00+00:00",
    )
    assert (body["data"]["block_number"], body["data"]["nonce"]) == (12, "3")
    assert WebhookEvent.model_validate(body).data.customer == CUSTOMER
    assert made.body(AT) == made.body(AT)  # the same bytes every time
    with pytest.raises(InputError):
        ev.NewEvent("consent.maybe", "x", CUSTOMER, BRAND, AT)


@pytest.mark.parametrize(
    ("old", "new", "narrowed"),
    [
        ("1=3", "1=3", False),  # a renewal
        ("1=3", "1=7", False),  # a category more
        ("1=3", "1=3,2=1", False),  # a purpose more
        ("1=3", "1=1", True),  # a category fewer
        ("1=3,2=1", "1=3", True),  # a purpose fewer
        ("1=3", "1=4,2=3", True),  # different: something taken away
        ("", "1=1", False),
    ],
)
def test_narrowing_is_taking_away_a_pair_the_old_terms_allowed(old: str, new: str, narrowed: bool) -> None:
    assert narrows(old, new) is narrowed


def test_backoff_is_full_jitter_doubling_up_to_the_cap() -> None:
    policy = RetryPolicy(base=10.0, cap=21_600.0, dead_after=259_200.0, disable_after=86_400.0)
    highest = [policy.delay(n, lambda low, high: high) for n in range(1, 20)]
    assert highest[:4] == [10.0, 20.0, 40.0, 80.0]
    assert max(highest) == 21_600.0
    assert all(policy.delay(n, lambda low, high: low) == 0.0 for n in range(1, 5))
    assert policy.delay(10_000, lambda low, high: high) == 21_600.0  # no overflow however many failures
    assert all(0.0 <= policy.delay(n) <= 21_600.0 for n in range(1, 40))


@pytest.mark.parametrize(
    ("body", "ack"),
    [
        (b'{"ack": "stopped_processing"}', "stopped_processing"),
        (b'{"ack": "deleted", "more": 1}', "deleted"),
        (b'{"ack": "received"}', "received"),
        (b'{"ack": "maybe"}', None),
        (b'{"ack": 1}', None),
        (b"[]", None),
        (b"", None),
        (b"\xff\xfe", None),
        (b"[" * 100_000, None),
    ],
)
def test_an_ack_is_read_from_a_2xx_body_or_not_at_all(body: bytes, ack: str | None) -> None:
    assert parse_ack(body) == ack
