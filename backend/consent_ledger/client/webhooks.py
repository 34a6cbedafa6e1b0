"""Verifying a webhook from Consent Ledger before acting on it (Standard Webhooks 1.0).

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; `webhook-signature` holds one or more
space-separated `version,base64` signatures:

- `v1`: HMAC-SHA256 with the endpoint's secret (`whsec_<base64>`, shown once when the endpoint is made;
  during a rotation the old and the new secret both sign, so either one verifies). The expected
  signature is computed by the `standardwebhooks` package.
- `v1a`: ed25519 with the installation's signing key, whose public keys (`whpk_<base64 of 32 bytes>`)
  are published at /.well-known/consent-ledger/webhook-keys.json. Checked with `cryptography`.

A verifier is given the secrets, the public keys, or both; each kind it is given must verify (at least
one signature of that kind made with one of its secrets or keys). The timestamp must be within
`tolerance` of the receiver's clock (5 minutes by default), so a captured webhook replayed later is
refused; within that window a receiver deduplicates by `webhook-id` (the same on every redelivery).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from standardwebhooks import Webhook

from consent_ledger.apimodels.webhook_events import WebhookEvent
from consent_ledger.client.errors import WebhookRejectedError
from consent_ledger.errors import ConfigError

DEFAULT_TOLERANCE = timedelta(minutes=5)
MAX_TOLERANCE = timedelta(hours=1)
SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix every endpoint secret starts with, no secret)
PUBLIC_KEY_PREFIX = "whpk_"
MIN_SECRET_BYTES = 16
MAX_SIGNATURES = 16
# An id without '.', so `{id}.{timestamp}.{body}` can be split only one way; an integer timestamp.
_ID = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"(v[0-9][0-9a-z]{0,7}),([A-Za-z0-9+/]{1,200}={0,2})")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ConfigError(f"{what} is not base64") from error


def _secret(value: str) -> Webhook:
    if not value.startswith(SECRET_PREFIX):
        raise ConfigError(f"an endpoint secret starts with {SECRET_PREFIX} (as shown when the endpoint was made)")
    raw = _b64(value.removeprefix(SECRET_PREFIX), "the endpoint secret")
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(f"the endpoint secret holds {len(raw)} bytes; a Consent Ledger secret has at least 16")
    return Webhook(raw)


def _public_key(value: str) -> Ed25519PublicKey:
    if not value.startswith(PUBLIC_KEY_PREFIX):
        raise ConfigError(f"a webhook public key starts with {PUBLIC_KEY_PREFIX} (see webhook-keys.json)")
    raw = _b64(value.removeprefix(PUBLIC_KEY_PREFIX), "the webhook public key")
    if len(raw) != 32:
        raise ConfigError(f"an ed25519 public key is 32 bytes, this one {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    """A webhook whose signatures and timestamp verified: its id (deduplicate by it), when it was
    signed, and the event it carries."""

    id: str
    timestamp: datetime
    event: WebhookEvent


@dataclass(frozen=True, slots=True)
class _Headers:
    id: str
    timestamp: int
    signatures: list[tuple[str, bytes]]


class WebhookVerifier:
    """Checks webhooks against the endpoint's secrets (`v1`) and/or the installation's public keys (`v1a`)."""

    def __init__(
        self,
        *,
        secrets: Sequence[str] = (),
        public_keys: Sequence[str] = (),
        tolerance: timedelta = DEFAULT_TOLERANCE,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if isinstance(secrets, str) or isinstance(public_keys, str):
            raise ConfigError("secrets and public_keys are lists (an endpoint has two secrets during a rotation)")
        if not secrets and not public_keys:
            raise ConfigError("a webhook verifier needs the endpoint's secret, the installation's public key, or both")
        if not timedelta(0) < tolerance <= MAX_TOLERANCE:
            raise ConfigError(f"the timestamp tolerance must be positive and at most {MAX_TOLERANCE}")
        self._hmacs = [_secret(s) for s in secrets]
        self._keys = [_public_key(k) for k in public_keys]
        self._tolerance = int(tolerance.total_seconds())
        self._clock = clock

    def __repr__(self) -> str:
        return f"WebhookVerifier(<{len(self._hmacs)} secrets>, <{len(self._keys)} public keys>)"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedWebhook:
        """The verified webhook; `WebhookRejectedError` (do not act on it) if any check fails.
        `body` is the request body exactly as received, `headers` its headers (any case)."""
        found = self._headers(headers)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise WebhookRejectedError("the webhook body is not UTF-8") from error
        signed = f"{found.id}.{found.timestamp}.{text}".encode()
        if self._hmacs and not self._hmac_verifies(found, text):
            raise WebhookRejectedError("no v1 signature made with this endpoint's secret (wrong secret, or altered)")
        if self._keys and not self._ed25519_verifies(found, signed):
            raise WebhookRejectedError("no v1a signature made with the installation's key (wrong key, or altered)")
        try:
            event = WebhookEvent.model_validate_json(body)
        except ValidationError as error:
            why = error.errors()[0]["msg"]
            raise WebhookRejectedError(f"the signed body is not a Consent Ledger event: {why}") from error
        return VerifiedWebhook(found.id, datetime.fromtimestamp(found.timestamp, UTC), event)

    def _headers(self, headers: Mapping[str, str]) -> _Headers:
        lowered = {k.lower(): v for k, v in headers.items()}
        webhook_id = lowered.get("webhook-id", "")
        stamp = lowered.get("webhook-timestamp", "")
        signature = lowered.get("webhook-signature", "")
        if not webhook_id or not stamp or not signature:
            raise WebhookRejectedError("a webhook carries webhook-id, webhook-timestamp and webhook-signature")
        if not _ID.fullmatch(webhook_id):
            raise WebhookRejectedError("webhook-id is not an event id")
        if not _TIMESTAMP.fullmatch(stamp):
            raise WebhookRejectedError("webhook-timestamp is not whole unix seconds")
        timestamp = int(stamp)
        now = int(self._clock().timestamp())
        if timestamp < now - self._tolerance:
            raise WebhookRejectedError(
                f"the webhook was signed {now - timestamp} s ago, more than the {self._tolerance} s allowed: "
                "a replay, or a clock far off"
            )
        if timestamp > now + self._tolerance:
            raise WebhookRejectedError(f"the webhook is dated {timestamp - now} s in the future: check the clocks")
        entries = signature.split(" ")
        if len(entries) > MAX_SIGNATURES:
            raise WebhookRejectedError(f"more than {MAX_SIGNATURES} signatures in webhook-signature")
        signatures = []
        for entry in entries:
            match = _SIGNATURE.fullmatch(entry)
            if match is None:
                raise WebhookRejectedError("webhook-signature is not space-separated `version,base64` signatures")
            try:
                signatures.append((match[1], base64.b64decode(match[2], validate=True)))
            except (binascii.Error, ValueError) as error:
                raise WebhookRejectedError("a signature in webhook-signature is not base64") from error
        return _Headers(webhook_id, timestamp, signatures)

    def _hmac_verifies(self, found: _Headers, text: str) -> bool:
        given = [sig for version, sig in found.signatures if version == "v1"]
        when = datetime.fromtimestamp(found.timestamp, UTC)
        for webhook in self._hmacs:
            expected = base64.b64decode(webhook.sign(found.id, when, text).split(",", 1)[1])
            if any(hmac.compare_digest(expected, sig) for sig in given):
                return True
        return False

    def _ed25519_verifies(self, found: _Headers, signed: bytes) -> bool:
        given = [sig for version, sig in found.signatures if version == "v1a"]
        for key in self._keys:
            for sig in given:
                try:
                    key.verify(sig, signed)
                except InvalidSignature:
                    continue
                return True
        return False
