"""Making, listing, revoking and checking API keys.

A key reads `clk_<id>_<secret>`: `id` is 16 hex characters (shown in lists, so a brand can tell its keys
apart), `secret` 32 random bytes in unpadded base64url. Only the SHA-256 of the secret is stored: a
secret of 256 random bits needs no slow hash, and compare_digest compares the digests in constant time.

Every check reads the key's row, so a revocation (or an expiry) applies to the next request on every
replica: nothing is cached. The time of last use is written at most once per `touch_every` per key (a
conditional UPDATE that names the old value, so replicas racing to write it write it once).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.addresses import checksum_address
from consent_ledger.apikeys.models import ApiKey
from consent_ledger.apikeys.permissions import Permission
from consent_ledger.auth.errors import TokenError
from consent_ledger.db.base import utc_now
from consent_ledger.errors import ConflictError, InputError, NotFoundError

API_KEY_PREFIX = "clk_"
_KEY = re.compile(r"clk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
MAX_NAME = 120
MAX_ACTIVE_KEYS = 100
MAX_LIFETIME = timedelta(days=730)
TOUCH_EVERY = timedelta(minutes=1)


class ApiKeyError(TokenError):
    """An API key is malformed, unknown, revoked or expired (401)."""


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key as its brand sees it in lists: never the secret."""

    id: str
    brand: str
    name: str
    permissions: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> KeyRecord:
        permissions = tuple(row.permissions.split())
        return cls(
            row.id, row.brand, row.name, permissions, row.created_at, row.expires_at, row.revoked_at, row.last_used_at
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prefix": f"{API_KEY_PREFIX}{self.id}_",
            "name": self.name,
            "permissions": list(self.permissions),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": _iso(self.revoked_at),
            "last_used_at": _iso(self.last_used_at),
        }


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: its record and the whole key, which is shown this once and never again."""

    record: KeyRecord
    key: str

    def to_json(self) -> dict[str, Any]:
        return {**self.record.to_json(), "key": self.key}


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """Who a valid key speaks for, and what it may do."""

    key_id: str
    brand: str
    permissions: frozenset[str]
    expires_at: datetime


def parse_permissions(names: Collection[str]) -> tuple[str, ...]:
    """The permissions named, sorted and without repeats; `InputError` for an unknown name."""
    known = {p.value for p in Permission}
    unknown = sorted(set(names) - known)
    if unknown:
        raise InputError(f"unknown permission {unknown[0][:60]!r}: choose among {', '.join(sorted(known))}")
    if not names:
        raise InputError(f"name at least one permission among {', '.join(sorted(known))}")
    return tuple(sorted(set(names)))


class ApiKeyStore:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Callable[[], datetime] = utc_now,
        touch_every: timedelta = TOUCH_EVERY,
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self._touch_every = touch_every

    def create(self, brand: str, name: str, permissions: Collection[str], lifetime: timedelta) -> NewKey:
        """A new key for `brand`; its secret is in the answer only."""
        brand = checksum_address(brand)
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise InputError(f"a key name must have 1 to {MAX_NAME} characters (say what uses it)")
        chosen = parse_permissions(permissions)
        if not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise InputError(f"a key lives at most {MAX_LIFETIME.days} days")
        now = self._clock()
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        row = ApiKey(
            id=key_id,
            brand=brand,
            name=name,
            permissions=" ".join(chosen),
            secret_sha256=_digest(secret),
            created_at=now,
            expires_at=now + lifetime,
        )
        with self._sessions.begin() as session:
            active = session.scalar(
                select(func.count()).select_from(ApiKey).where(ApiKey.brand == brand, ApiKey.revoked_at.is_(None))
            )
            if int(active or 0) >= MAX_ACTIVE_KEYS:
                raise ConflictError(f"you hold {MAX_ACTIVE_KEYS} unrevoked keys, the most allowed: revoke one first")
            session.add(row)
            session.flush()
            record = KeyRecord.of(row)
        return NewKey(record, f"{API_KEY_PREFIX}{key_id}_{secret}")

    def of_brand(self, brand: str) -> list[KeyRecord]:
        """The brand's keys, newest first, revoked ones included (with when)."""
        query = select(ApiKey).where(ApiKey.brand == checksum_address(brand)).order_by(ApiKey.created_at.desc())
        with self._sessions() as session:
            return [KeyRecord.of(row) for row in session.scalars(query)]

    def revoke(self, brand: str, key_id: str) -> KeyRecord:
        """Revoke one of the brand's keys (again: no change); `NotFoundError` if it has no such key."""
        if not _KEY_ID.fullmatch(key_id):
            raise NotFoundError("no such key: a key id is 16 hex characters")
        brand = checksum_address(brand)
        with self._sessions.begin() as session:
            session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.brand == brand, ApiKey.revoked_at.is_(None))
                .values(revoked_at=self._clock())
                .execution_options(synchronize_session=False)
            )
            row = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.brand == brand))
            if row is None:
                raise NotFoundError("you have no key with this id")
            return KeyRecord.of(row)

    def authenticate(self, key: str) -> KeyIdentity:
        """The brand and permissions of a valid key; `ApiKeyError` if it is malformed, unknown, revoked or
        expired. Records the use (at most once per `touch_every`)."""
        match = _KEY.fullmatch(key)
        if match is None:
            raise ApiKeyError("malformed API key: expected clk_<id>_<secret>, exactly as shown when it was made")
        key_id, secret = match[1], match[2]
        now = self._clock()
        with self._sessions() as session:
            row = session.get(ApiKey, key_id)
            stored = row.secret_sha256 if row is not None else b"\0" * 32
            if not hmac.compare_digest(stored, _digest(secret)) or row is None:
                raise ApiKeyError("unknown API key: it was never made here, or it was mistyped")
            record = KeyRecord.of(row)
        if record.revoked_at is not None:
            raise ApiKeyError(f"this API key was revoked at {record.revoked_at.isoformat()}: make a new one")
        if now >= record.expires_at:
            raise ApiKeyError(f"this API key expired at {record.expires_at.isoformat()}: make a new one")
        if record.last_used_at is None or now - record.last_used_at >= self._touch_every:
            self._touch(key_id, now)
        return KeyIdentity(key_id, record.brand, frozenset(record.permissions), record.expires_at)

    def _touch(self, key_id: str, now: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == key_id,
                    or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - self._touch_every),
                )
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
