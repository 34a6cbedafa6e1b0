"""Signing webhooks (Standard Webhooks 1.0): the installation's ed25519 key and the three headers.

`webhook-signature` carries one `v1,<base64 HMAC-SHA256>` per valid endpoint secret (computed by the
`standardwebhooks` package; two during a rotation) and one `v1a,<base64 ed25519>` made with the
installation's key over the same content, `{webhook-id}.{webhook-timestamp}.{body}`. Receivers check
either kind (`consent_ledger.client.WebhookVerifier` checks both); the public key is published at
/.well-known/consent-ledger/webhook-keys.json.

The key is the 32-byte ed25519 seed, base64, from CONSENT_WEBHOOK_SIGNING_KEY (required in
production, the same on every replica) or, elsewhere, made once under var/secrets/webhook-signing-key
by the same rules as the other installation secrets (0600, refused when others may read it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks import Webhook

from consent_ledger.config import Settings
from consent_ledger.errors import ConfigError
from consent_ledger.local_secrets import load_webhook_signing_seed

PUBLIC_KEY_PREFIX = "whpk_"
SEED_BYTES = 32


class SigningKey:
    """The installation's ed25519 webhook key. Its private half never appears in `repr` or `str`."""

    __slots__ = ("_key", "_public")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise ConfigError(f"the webhook signing key must be {SEED_BYTES} bytes, got {len(seed)}")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def from_string(cls, text: str, source: str = "CONSENT_WEBHOOK_SIGNING_KEY") -> SigningKey:
        value = text.strip()
        if value.startswith(PUBLIC_KEY_PREFIX):
            raise ConfigError(f"{source} holds a public key ({PUBLIC_KEY_PREFIX}...): it must be the private seed")
        try:
            seed = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ConfigError(
                f"{source} must be base64 of a 32-byte ed25519 seed "
                '(make one with: python -c "import os,base64; print(base64.b64encode(os.urandom(32)).decode())")'
            ) from error
        return cls(seed)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate().private_bytes_raw())

    @property
    def public_key(self) -> str:
        """`whpk_` + base64 of the 32-byte public key, as published."""
        return PUBLIC_KEY_PREFIX + base64.b64encode(self._public).decode("ascii")

    @property
    def key_id(self) -> str:
        """A 16-hex-digit name of the public key (its SHA-256, shortened)."""
        return hashlib.sha256(b"consent-ledger/webhook-key-id/v1|" + self._public).hexdigest()[:16]

    def sign(self, content: bytes) -> bytes:
        return self._key.sign(content)

    def __repr__(self) -> str:
        return f"SigningKey(id={self.key_id})"


def load_signing_key(settings: Settings) -> SigningKey:
    """The configured key, or (outside production) this installation's generated one."""
    seed, source = load_webhook_signing_seed(settings)
    return SigningKey.from_string(seed, source)


def signature_headers(
    webhook_id: str, timestamp: int, body: bytes, secrets: Sequence[str], key: SigningKey
) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature for `body` (exactly the bytes sent): a `v1`
    HMAC per endpoint secret, then the `v1a` ed25519 signature."""
    if isinstance(secrets, str):
        raise TypeError("secrets is a list of whsec_ secrets")
    text = body.decode("utf-8")
    when = datetime.fromtimestamp(timestamp, UTC)
    signatures = [Webhook(secret).sign(webhook_id, when, text) for secret in secrets]
    content = f"{webhook_id}.{timestamp}.{text}".encode()
    signatures.append("v1a," + base64.b64encode(key.sign(content)).decode("ascii"))
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(signatures)}


def published_keys(key: SigningKey) -> dict[str, list[dict[str, str]]]:
    """The body of /.well-known/consent-ledger/webhook-keys.json."""
    return {"keys": [{"id": key.key_id, "alg": "ed25519", "public_key": key.public_key}]}
