"""Single-use sign-in nonces: the store protocol and an in-memory implementation.

A database-backed store (shared by several API workers) comes later; `MemoryNonceStore` serves one process.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol

from consent_ledger.auth._common import require_aware
from consent_ledger.auth.siwe import new_nonce
from consent_ledger.errors import ConfigError


class NonceStore(Protocol):
    """Hands out nonces for sign-in messages and accepts each one exactly once before it expires."""

    def issue(self, now: datetime) -> str:
        """Create, remember and return a fresh nonce."""
        ...

    def consume(self, nonce: str, now: datetime) -> bool:
        """Forget `nonce`; True only if it was issued, not yet used and not expired at `now`."""
        ...


class MemoryNonceStore:
    """Thread-safe in-memory `NonceStore`; nonces live `ttl_seconds`.

    Expired nonces are refused and pruned. At most `max_entries` nonces are kept: when full, the oldest
    is dropped, so an anonymous client asking for many nonces cannot exhaust memory.
    """

    def __init__(self, ttl_seconds: int, *, max_entries: int = 100_000) -> None:
        if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
            raise ConfigError(f"nonce ttl_seconds must be a positive integer, got {ttl_seconds!r}")
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries <= 0:
            raise ConfigError(f"nonce max_entries must be a positive integer, got {max_entries!r}")
        self._ttl = timedelta(seconds=ttl_seconds)
        self._max_entries = max_entries
        self._expiry: dict[str, datetime] = {}  # insertion order is issue order
        self._lock = threading.Lock()

    def issue(self, now: datetime) -> str:
        now = require_aware(now)
        nonce = new_nonce()
        with self._lock:
            self._prune(now)
            while len(self._expiry) >= self._max_entries:
                del self._expiry[next(iter(self._expiry))]
            self._expiry[nonce] = now + self._ttl
        return nonce

    def consume(self, nonce: str, now: datetime) -> bool:
        now = require_aware(now)
        with self._lock:
            expires_at = self._expiry.pop(nonce, None)
            self._prune(now)
        return expires_at is not None and now < expires_at

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def _prune(self, now: datetime) -> None:
        """Drop expired nonces from the oldest on; stop at the first live one (callers hold the lock)."""
        while self._expiry:
            oldest = next(iter(self._expiry))
            if self._expiry[oldest] > now:
                break
            del self._expiry[oldest]
