"""A `NonceStore` in the database, so sign-in nonces work across processes and restarts.

Consuming is one DELETE: the row count says whether the nonce existed, so two concurrent
sign-ins with the same nonce cannot both succeed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from consent_ledger.auth.models import AuthNonce
from consent_ledger.auth.siwe import new_nonce


class SqlNonceStore:
    def __init__(self, session_factory: sessionmaker[Session], ttl_seconds: int) -> None:
        self._sessions = session_factory
        self._ttl = timedelta(seconds=ttl_seconds)

    def issue(self, now: datetime) -> str:
        nonce = new_nonce()
        with self._sessions.begin() as session:
            session.execute(delete(AuthNonce).where(AuthNonce.expires_at < now))
            session.add(AuthNonce(nonce=nonce, expires_at=now + self._ttl))
        return nonce

    def consume(self, nonce: str, now: datetime) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(delete(AuthNonce).where(AuthNonce.nonce == nonce, AuthNonce.expires_at >= now))
            return bool(getattr(result, "rowcount", 0) == 1)
