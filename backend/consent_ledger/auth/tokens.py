"""Short-lived bearer tokens: `base64url(payload_json).base64url(hmac_sha256)`, no JWT library.

The MAC is HMAC-SHA256 with the server secret over the first segment exactly as sent (its ASCII bytes).
Payload: `{"sub": checksummed address, "iat": unix s, "exp": unix s, "jti": random id}`. A token says who
signed in, never what they may do: roles are looked up on every request (auth/roles.py, services/sessions.py),
so a role taken away applies at once.
Base64url is unpadded and must be canonical, so every token has exactly one spelling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils.address import is_checksum_address

from consent_ledger.auth._common import checksum_address, require_aware
from consent_ledger.auth.errors import TokenError
from consent_ledger.errors import ConfigError

MIN_SECRET_BYTES = 32
MAX_TOKEN_LENGTH = 4096
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_PAYLOAD_KEYS = frozenset({"sub", "iat", "exp", "jti"})


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token speaks for: a checksummed address, and when the token expires (UTC)."""

    address: str
    expires_at: datetime


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str, what: str) -> bytes:
    if _SEGMENT.fullmatch(segment) is None:
        raise TokenError(f"malformed token: the {what} is not base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError(f"malformed token: the {what} is not base64url") from exc
    if _b64encode(data) != segment:
        raise TokenError(f"malformed token: the {what} is not canonical base64url")
    return data


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class TokenSigner:
    """Issues and verifies bearer tokens with one HMAC secret (at least 32 bytes) and a lifetime in seconds."""

    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        if not isinstance(secret, bytes):
            raise ConfigError("the token secret must be bytes")
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"the token secret is {len(secret)} bytes; use at least {MIN_SECRET_BYTES} random bytes"
                " (for example secrets.token_bytes(32))"
            )
        if not _is_int(ttl_seconds) or ttl_seconds <= 0:
            raise ConfigError(f"token ttl_seconds must be a positive integer, got {ttl_seconds!r}")
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def __repr__(self) -> str:
        return f"TokenSigner(secret=<{len(self._secret)} bytes>, ttl_seconds={self.ttl_seconds})"

    def _mac(self, payload_segment: str) -> bytes:
        return hmac.new(self._secret, payload_segment.encode("ascii"), hashlib.sha256).digest()

    def issue(self, address: str, now: datetime) -> str:
        """A token for `address` (any case; stored checksummed), valid `ttl_seconds` from `now`."""
        now = require_aware(now)
        issued_at = math.floor(now.timestamp())
        payload = {
            "sub": checksum_address(address),
            "iat": issued_at,
            "exp": issued_at + self.ttl_seconds,
            "jti": secrets.token_urlsafe(16),
        }
        segment = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return f"{segment}.{_b64encode(self._mac(segment))}"

    def verify(self, token: str, now: datetime) -> Identity:
        """The identity a token carries; `TokenError` if it is malformed, forged or expired at `now`."""
        now = require_aware(now)
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise TokenError("malformed token: expected two base64url parts separated by '.'")
        payload_segment, mac_segment = token.split(".")
        raw_payload = _b64decode(payload_segment, "payload")
        mac = _b64decode(mac_segment, "signature")
        if not hmac.compare_digest(mac, self._mac(payload_segment)):
            raise TokenError("invalid token signature: the token was altered or signed with another secret")
        payload = self._payload(raw_payload)
        expires_at = datetime.fromtimestamp(payload["exp"], UTC)
        if now >= expires_at:
            raise TokenError(f"the token expired at {expires_at.isoformat()}: sign in again")
        return Identity(address=payload["sub"], expires_at=expires_at)

    @staticmethod
    def _payload(raw: bytes) -> dict[str, Any]:
        """Decode and check the payload of a token whose MAC already verified."""
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TokenError("malformed token: the payload is not JSON") from exc
        if not isinstance(payload, dict) or set(payload) != _PAYLOAD_KEYS:
            raise TokenError(f"malformed token: the payload must have exactly the keys {sorted(_PAYLOAD_KEYS)}")
        sub = payload["sub"]
        if not isinstance(sub, str) or not is_checksum_address(sub):
            raise TokenError("malformed token: 'sub' is not a checksummed address")
        if not _is_int(payload["iat"]) or not _is_int(payload["exp"]) or not isinstance(payload["jti"], str):
            raise TokenError("malformed token: 'iat'/'exp' must be integers and 'jti' a string")
        return payload
