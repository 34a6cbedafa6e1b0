"""Request rate limits, with the `limits` library: per network address, per signed-in identity, and for
sign-in nonces per network address.

Each limit is a `limits` string such as "50/second;1500/minute" (every part must hold); an empty string
turns that limit off. Counters live in the storage named by a `limits` URI: "memory://" (the default)
keeps them in this process, so each replica counts on its own and N replicas together allow up to N
times a limit; point every replica at one shared store ("redis://host:6379", "memcached://host:11211",
with that store's client installed) to enforce each limit once across all of them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError
from limits.storage import Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from consent_ledger.errors import ConfigError, RateLimitedError

# The kinds of limit, each with the phrase its 429 names.
ADDRESS = "address"
IDENTITY = "identity"
NONCE = "nonce"
WHAT = {
    ADDRESS: "requests from your network address",
    IDENTITY: "requests with your sign-in",
    NONCE: "sign-in nonces requested from your network address",
}


def parse_limits(text: str, setting: str) -> list[RateLimitItem]:
    """The parts of a limit string; [] for "" (no limit). A bad string is a ConfigError naming `setting`."""
    if not text.strip():
        return []
    try:
        return parse_many(text)
    except ValueError as error:
        raise ConfigError(f"{setting} is not a rate limit such as '50/second;1500/minute': {text!r}") from error


@dataclass(frozen=True)
class LimitSpec:
    """The limit strings of each kind, as Settings holds them."""

    per_address: str
    per_identity: str
    nonces_per_address: str


class RateLimits:
    """Counts hits per (kind, key) and refuses one past its limit with `RateLimitedError` (429, Retry-After)."""

    def __init__(self, storage_uri: str, spec: LimitSpec) -> None:
        scheme = storage_uri.partition("://")[0]  # the rest may hold a password: never shown
        try:
            storage = storage_from_string(storage_uri)
        except ConfigurationError as error:
            raise ConfigError(f"CONSENT_RATE_LIMIT_STORAGE {scheme!r}: {error}") from error
        if not isinstance(storage, Storage):
            raise ConfigError(f"CONSENT_RATE_LIMIT_STORAGE {scheme!r} is an async storage: name a sync one")
        self._storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._limits = {
            ADDRESS: parse_limits(spec.per_address, "CONSENT_RATE_LIMIT_PER_ADDRESS"),
            IDENTITY: parse_limits(spec.per_identity, "CONSENT_RATE_LIMIT_PER_IDENTITY"),
            NONCE: parse_limits(spec.nonces_per_address, "CONSENT_RATE_LIMIT_NONCES_PER_ADDRESS"),
        }

    def hit(self, kind: str, key: str) -> None:
        """Count one request of `kind` by `key`; raise `RateLimitedError` when one of its limits is used up
        (the refused request is not counted against the others)."""
        for item in self._limits[kind]:
            if not self._limiter.hit(item, kind, key):
                reset = self._limiter.get_window_stats(item, kind, key).reset_time
                retry_after = max(1, math.ceil(reset - time.time()))
                raise RateLimitedError(
                    f"too many {WHAT[kind]}: the limit is {item}; retry in {retry_after} s", retry_after
                )

    def reset(self) -> None:
        """Forget every count (for operators and tests)."""
        self._storage.reset()
