"""The client's webhook verifier (issue 11 items 4 and Tests): a correctly signed webhook verifies with the
endpoint's secret (v1) and the installation's ed25519 key (v1a); a tampered body, a wrong secret or key,
an old (replayed) or future timestamp, and any malformed header are refused with WebhookRejectedError.

The webhooks here are signed by the test itself (hmac + hashlib for v1, cryptography's ed25519 for v1a), so
the verifier is checked against the scheme, not against itself; the standardwebhooks library's own verifier
confirms the test's v1 signatures are Standard Webhooks signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from consent_ledger.client import VerifiedWebhook, WebhookRejectedError, WebhookVerifier
from consent_ledger.errors import ConfigError

SECRET = bytes(range(32))
OLD_SECRET = bytes(range(100, 124))
PRIVATE = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
EVENT_ID = "evt_" + "ab" * 32


def whsec(raw: bytes) -> str:
    return "whsec_" + base64.b64encode(raw).decode()


def whpk(key: Ed25519PrivateKey) -> str:
    return "whpk_" + base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def body(event_type: str = "consent.revoked") -> bytes:
    data = {
        "event_id": EVENT_ID,
        "customer": "0x" + "11" * 20,
        "brand": "0x" + "22" * 20,
        "occurred_at": "2026-12-02T08:00:00+00:00",
        "block_number": 12,
        "tx_hash": "0x" + "33" * 32,
    }
    return json.dumps({"type": event_type, "timestamp": "2026-12-02T08:00:01+00:00", "data": data}).encode()


def v1(secret: bytes, webhook_id: str, stamp: int, payload: bytes) -> str:
    mac = hmac.new(secret, f"{webhook_id}.{stamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def v1a(key: Ed25519PrivateKey, webhook_id: str, stamp: int, payload: bytes) -> str:
    return "v1a," + base64.b64encode(key.sign(f"{webhook_id}.{stamp}.".encode() + payload)).decode()


def headers(payload: bytes, *signatures: str, stamp: int | None = None, webhook_id: str = EVENT_ID) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    signed = [s(webhook_id, stamp, payload) if callable(s) else s for s in signatures]
    return {"webhook-id": webhook_id, "webhook-timestamp": str(stamp), "webhook-signature": " ".join(signed)}


def hmac_signer(secret: bytes):
    return lambda i, t, p: v1(secret, i, t, p)


def ed_signer(key: Ed25519PrivateKey):
    return lambda i, t, p: v1a(key, i, t, p)


def test_the_tests_v1_signatures_are_standard_webhooks_signatures() -> None:
    payload = body()
    sent = headers(payload, hmac_signer(SECRET))
    assert Webhook(whsec(SECRET)).verify(payload, sent) == json.loads(payload)


def test_a_v1_webhook_verifies_with_the_endpoint_secret() -> None:
    payload = body()
    sent = headers(payload, hmac_signer(SECRET), ed_signer(PRIVATE))
    verified = WebhookVerifier(secrets=[whsec(SECRET)]).verify(payload, sent)
    assert isinstance(verified, VerifiedWebhook)
    assert verified.id == EVENT_ID
    assert verified.event.type == "consent.revoked"
    assert verified.event.data.event_id == EVENT_ID
    assert verified.event.data.block_number == 12
    assert abs(verified.timestamp - datetime.now(UTC)) < timedelta(minutes=1)


def test_a_v1a_webhook_verifies_with_the_public_key() -> None:
    payload = body("data.erased")
    sent = headers(payload, hmac_signer(SECRET), ed_signer(PRIVATE))
    assert WebhookVerifier(public_keys=[whpk(PRIVATE)]).verify(payload, sent).event.type == "data.erased"
    both = WebhookVerifier(secrets=[whsec(SECRET)], public_keys=[whpk(PRIVATE)])
    assert both.verify(payload, {k.upper(): v for k, v in sent.items()}).id == EVENT_ID  # header names: any case


def test_during_a_rotation_either_secret_verifies() -> None:
    payload = body()
    sent = headers(payload, hmac_signer(OLD_SECRET), hmac_signer(SECRET))
    assert WebhookVerifier(secrets=[whsec(SECRET)]).verify(payload, sent).id == EVENT_ID
    assert WebhookVerifier(secrets=[whsec(OLD_SECRET)]).verify(payload, sent).id == EVENT_ID
    assert WebhookVerifier(secrets=[whsec(OLD_SECRET), whsec(SECRET)]).verify(payload, sent).id == EVENT_ID


@pytest.mark.parametrize(
    "verifier",
    [
        pytest.param(lambda: WebhookVerifier(secrets=[whsec(SECRET)]), id="v1"),
        pytest.param(lambda: WebhookVerifier(public_keys=[whpk(PRIVATE)]), id="v1a"),
    ],
)
def test_a_tampered_body_is_refused(verifier) -> None:
    payload = body()
    sent = headers(payload, hmac_signer(SECRET), ed_signer(PRIVATE))
    tampered = payload.replace(b"consent.revoked", b"consent.granted")
    with pytest.raises(WebhookRejectedError, match="altered"):
        verifier().verify(tampered, sent)
    with pytest.raises(WebhookRejectedError):
        verifier().verify(payload + b" ", sent)
    for name, value in (("webhook-id", "evt_" + "cd" * 32), ("webhook-timestamp", str(int(time.time()) - 1))):
        with pytest.raises(WebhookRejectedError, match="altered"):
            verifier().verify(payload, {**sent, name: value})


def test_a_wrong_secret_or_key_is_refused() -> None:
    payload = body()
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
    with pytest.raises(WebhookRejectedError, match="secret"):
        WebhookVerifier(secrets=[whsec(OLD_SECRET)]).verify(payload, headers(payload, hmac_signer(SECRET)))
    with pytest.raises(WebhookRejectedError, match="installation's key"):
        WebhookVerifier(public_keys=[whpk(PRIVATE)]).verify(payload, headers(payload, ed_signer(other)))
    with pytest.raises(WebhookRejectedError, match="installation's key"):  # an HMAC alone does not do for v1a
        WebhookVerifier(public_keys=[whpk(PRIVATE)]).verify(payload, headers(payload, hmac_signer(SECRET)))


def test_a_verifier_given_both_needs_both() -> None:
    payload = body()
    both = WebhookVerifier(secrets=[whsec(SECRET)], public_keys=[whpk(PRIVATE)])
    with pytest.raises(WebhookRejectedError, match="installation's key"):
        both.verify(payload, headers(payload, hmac_signer(SECRET)))
    with pytest.raises(WebhookRejectedError, match="secret"):
        both.verify(payload, headers(payload, ed_signer(PRIVATE)))


def test_a_replayed_old_webhook_is_refused() -> None:
    payload = body()
    old = int(time.time()) - 6 * 60  # correctly signed, six minutes ago
    sent = headers(payload, hmac_signer(SECRET), ed_signer(PRIVATE), stamp=old)
    with pytest.raises(WebhookRejectedError, match="replay"):
        WebhookVerifier(secrets=[whsec(SECRET)]).verify(payload, sent)
    with pytest.raises(WebhookRejectedError, match="replay"):
        WebhookVerifier(public_keys=[whpk(PRIVATE)]).verify(payload, sent)
    # A longer tolerance takes it; a receiver clock that has moved on past the tolerance refuses a fresh one.
    assert WebhookVerifier(secrets=[whsec(SECRET)], tolerance=timedelta(minutes=10)).verify(payload, sent)
    fresh = headers(payload, hmac_signer(SECRET))
    later = WebhookVerifier(secrets=[whsec(SECRET)], clock=lambda: datetime.now(UTC) + timedelta(minutes=5, seconds=2))
    with pytest.raises(WebhookRejectedError, match="replay"):
        later.verify(payload, fresh)


def test_a_webhook_from_the_future_is_refused() -> None:
    payload = body()
    sent = headers(payload, hmac_signer(SECRET), stamp=int(time.time()) + 6 * 60)
    with pytest.raises(WebhookRejectedError, match="future"):
        WebhookVerifier(secrets=[whsec(SECRET)]).verify(payload, sent)


def test_a_signed_body_that_is_no_event_is_refused() -> None:
    payload = b'{"type": "consent.revoked"}'
    with pytest.raises(WebhookRejectedError, match="not a Consent Ledger event"):
        WebhookVerifier(secrets=[whsec(SECRET)]).verify(payload, headers(payload, hmac_signer(SECRET)))


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-id": ""},
        {"webhook-id": "evt.1"},
        {"webhook-timestamp": "1e9"},
        {"webhook-timestamp": " 17"},
        {"webhook-timestamp": "99999999999999999999"},
        {"webhook-signature": ""},
        {"webhook-signature": "v1"},
        {"webhook-signature": "v1,not base64!"},
        {"webhook-signature": "v1,abc"},
        {"webhook-signature": "v1,AAAA  v1,AAAA"},
        {"webhook-signature": " ".join(["v1,AAAA"] * 17)},
    ],
)
def test_malformed_headers_are_refused(change: dict[str, str]) -> None:
    payload = body()
    sent = {**headers(payload, hmac_signer(SECRET)), **change}
    with pytest.raises(WebhookRejectedError):
        WebhookVerifier(secrets=[whsec(SECRET)]).verify(payload, sent)


def test_a_body_that_is_not_utf8_is_refused() -> None:
    payload = b"\xff\xfe"
    with pytest.raises(WebhookRejectedError, match="UTF-8"):
        WebhookVerifier(secrets=[whsec(SECRET)]).verify(payload, headers(payload, "v1,AAAA"))


@settings(max_examples=300, deadline=None)
@given(
    webhook_id=st.text(max_size=80),
    stamp=st.text(max_size=30),
    signature=st.text(max_size=200),
    payload=st.binary(max_size=200),
)
def test_arbitrary_input_is_refused_and_nothing_else(
    webhook_id: str, stamp: str, signature: str, payload: bytes
) -> None:
    sent = {"webhook-id": webhook_id, "webhook-timestamp": stamp, "webhook-signature": signature}
    with pytest.raises(WebhookRejectedError):
        WebhookVerifier(secrets=[whsec(SECRET)], public_keys=[whpk(PRIVATE)]).verify(payload, sent)


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"secrets": whsec(SECRET)},
        {"secrets": ["sk_" + base64.b64encode(SECRET).decode()]},
        {"secrets": ["whsec_%%%"]},
        {"secrets": [whsec(b"short")]},
        {"public_keys": ["whpk_" + base64.b64encode(b"x" * 31).decode()]},
        {"public_keys": [whsec(SECRET)]},
        {"secrets": [whsec(SECRET)], "tolerance": timedelta(0)},
        {"secrets": [whsec(SECRET)], "tolerance": timedelta(hours=2)},
    ],
)
def test_a_verifier_is_refused_a_bad_configuration(arguments: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        WebhookVerifier(**arguments)  # type: ignore[arg-type]


def test_the_verifier_shows_no_secret() -> None:
    shown = repr(WebhookVerifier(secrets=[whsec(SECRET)], public_keys=[whpk(PRIVATE)]))
    assert base64.b64encode(SECRET).decode() not in shown
    assert "1 secrets" in shown
