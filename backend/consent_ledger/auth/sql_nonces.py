"""A `NonceStore` in the database, so sign-in nonces work across processes and restarts.

Consuming is one DELETE: the row count says whether the nonce existed, so two concurrent
sign-ins with the same nonce cannot both succeed.

Storage is bounded: issuing first deletes every expired nonce, then refuses (`RateLimitedError`, 429 with
Retry-After until the oldest pending one expires) while `max_pending` unused, unexpired nonces are
stored. The count and the insert are two statements, so replicas issuing at the same instant can pass
the bound by at most the number of requests in flight: the table stays bounded, not exact.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.auth.models import AuthNonce
from consent_ledger.auth.siwe import new_nonce
from consent_ledger.errors import ConfigError, RateLimitedError

DEFAULT_MAX_PENDING = 10_000


class SqlNonceStore:
    def __init__(
        self, session_factory: sessionmaker[Session], ttl_seconds: int, max_pending: int = DEFAULT_MAX_PENDING
    ) -> None:
        if max_pending < 1:
            raise ConfigError(f"max_pending nonces must be at least 1, got {max_pending}")
        self._sessions = session_factory
        self._ttl = timedelta(seconds=ttl_seconds)
        self._max_pending = max_pending

    def issue(self, now: datetime) -> str:
        nonce = new_nonce()
        with self._sessions.begin() as session:
            session.execute(delete(AuthNonce).where(AuthNonce.expires_at < now))
            pending, oldest = session.execute(select(func.count(), func.min(AuthNonce.expires_at))).one()
            if pending >= self._max_pending:
                retry_after = max(1, math.ceil((oldest - now).total_seconds())) if oldest else 1
                raise RateLimitedError(
                    f"{pending} sign-in nonces are waiting to be used, the most this server keeps; "
                    f"retry in {retry_after} s",
                    retry_after,
                )
            session.add(AuthNonce(nonce=nonce, expires_at=now + self._ttl))
        return nonce

    def pending(self, now: datetime) -> int:
        """Unused nonces not yet expired at `now`."""
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).where(AuthNonce.expires_at >= now)) or 0)

    def consume(self, nonce: str, now: datetime) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(delete(AuthNonce).where(AuthNonce.nonce == nonce, AuthNonce.expires_at >= now))
            return bool(getattr(result, "rowcount", 0) == 1)
